using Spectre.Console;
using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Top;

/// <summary>The loop of <c>tcpq top</c>: reads the source every tick (which also drains it), and
/// at every interval turns the last two readings into a frame; draws it live in a terminal with
/// the keys, or writes it as a plain snapshot. Ends on <paramref name="stop"/> (Ctrl-C, SIGTERM,
/// --duration), 'q', or after --iterations frames.</summary>
public sealed class TopSession(TopOptions options, TopSource source, ITopClock clock, CancellationToken stop)
{
    /// <summary>How often the source is read between frames, and the keys looked at.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(50);

    private TopReading? _previous;
    private TopReading _current = null!;
    private IReadOnlyList<Dotnet.AppReading>? _appsBefore, _apps;
    private long _rescanNs;
    /// <summary>How often auto looks for .NET processes that began to listen since.</summary>
    private static readonly TimeSpan Rescan = TimeSpan.FromSeconds(5);
    private IReadOnlyDictionary<ListenerKey, Finding>? _findings;
    private long _nextNs;

    public int Frames { get; private set; }

    /// <summary>Plain snapshots, one per interval (<c>top -b</c>); a reader that goes away ends it
    /// with the IOException of the write (EPIPE), for the caller to take as a normal end.</summary>
    public void RunBatch(TextWriter to)
    {
        Begin();
        while (WaitForNextFrame(() => false))
        {
            Advance();
            TopPlainWriter.Write(to, Frame(new TopState(options.Sort)), source.Description);
            if (++Frames >= (options.Iterations ?? int.MaxValue)) return;
        }
    }

    /// <summary>The live view, redrawn in place (in the alternate screen where the terminal has
    /// one, as top does); keys when <paramref name="keys"/> (standard input is the terminal).</summary>
    public void RunLive(IAnsiConsole console, bool keys)
    {
        var state = new TopState(options.Sort);
        Begin();
        void Live() => console.Live(TopScreen.Render(Frame(state), source.Description, state.Paused, console.Profile.Width))
            .AutoClear(false)
            .Overflow(VerticalOverflow.Crop)
            .Cropping(VerticalOverflowCropping.Bottom)
            .Start(ctx =>
            {
                ctx.Refresh();
                while (!state.Quit)
                {
                    bool redraw = false;
                    bool due = WaitForNextFrame(() => keys && console.Input.IsKeyAvailable());
                    // one key at a time, each drawn before the next is read
                    if (keys && console.Input.IsKeyAvailable() && console.Input.ReadKey(intercept: true) is ConsoleKeyInfo key)
                        redraw = state.Apply(key);
                    if (state.Quit || stop.IsCancellationRequested) return;
                    if (due && !state.Paused)
                    {
                        Advance();
                        Frames++;
                        redraw = true;
                    }
                    if (redraw)
                    {
                        ctx.UpdateTarget(TopScreen.Render(Frame(state), source.Description, state.Paused, console.Profile.Width));
                        ctx.Refresh();
                    }
                    if (Frames >= (options.Iterations ?? int.MaxValue)) return;
                }
            });
        if (console.Profile.Capabilities.Ansi && console.Profile.Capabilities.AlternateBuffer) console.AlternateScreen(Live);
        else Live();
    }

    private void Begin()
    {
        source.Dotnet?.Start();
        _rescanNs = clock.MonotonicNs + Ns(Rescan);
        _apps = source.Dotnet?.Read();
        _current = Reading();
        _findings = source.Diagnosis?.TopFindings();
        _nextNs = clock.MonotonicNs + Ns(options.Interval);
    }

    /// <summary>Reads (drains) the source every tick until the next frame is due (true), a key
    /// waits (false), or the command is stopping (false).</summary>
    private bool WaitForNextFrame(Func<bool> keyWaiting)
    {
        while (!stop.IsCancellationRequested)
        {
            long now = clock.MonotonicNs;
            if (now >= _nextNs)
            {
                // late (a slow draw, a paused screen): the next frame an interval from now, no burst
                _nextNs = Math.Max(_nextNs + Ns(options.Interval), now + Ns(Tick));
                return true;
            }
            if (keyWaiting()) return false;
            clock.Sleep(TimeSpan.FromTicks(Math.Min(Tick.Ticks, (_nextNs - now) / 100 + 1)), stop);
            source.Aggregates.Read();
        }
        return false;
    }

    private void Advance()
    {
        if (source.Dotnet is { } dotnet)
        {
            if (clock.MonotonicNs >= _rescanNs) { dotnet.Rescan(); _rescanNs = clock.MonotonicNs + Ns(Rescan); }
            _appsBefore = _apps;
            _apps = dotnet.Read();
        }
        _previous = _current;
        _current = Reading();
        _findings = source.Diagnosis?.TopFindings();
    }

    private TopReading Reading() => TopReading.Of(source.Aggregates.Read());

    private TopFrame Frame(TopState state)
    {
        var frame = TopView.Frame(_previous, _current, source.Aggregates.Reasons, _findings, state.Sort, state.Reversed) with { AppLines = TopApps.Lines(_appsBefore, _apps) };
        if (source.Workloads?.Invoke(frame.Rows.Where(r => !r.IsOther).Select(r => r.Key)) is not { } workloadOf) return frame;
        return frame with { Rows = [.. frame.Rows.Select(r => r with { Workload = workloadOf(r.Key) })] };
    }

    private static long Ns(TimeSpan t) => t.Ticks * 100;
}
