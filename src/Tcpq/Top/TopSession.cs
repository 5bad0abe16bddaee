using Spectre.Console;
using Spectre.Console.Rendering;
using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Top;

/// <summary>top on the <see cref="PollLoop"/>: reads the source every tick (which also pumps a
/// sampled stream, and shows the diagnosis how full the queues are), and at every interval turns
/// the last two readings into a frame; draws it live in a terminal with the keys, or writes it as
/// a plain snapshot. Ends on <paramref name="stop"/> (Ctrl-C, SIGTERM, --duration), 'q', or after
/// --iterations frames.</summary>
public sealed class TopSession(TopOptions options, TopSource source, ILoopClock clock, CancellationToken stop)
{
    private TopReading? _previous;
    private TopReading _current = null!;
    private IReadOnlyDictionary<ListenerKey, Finding>? _findings;
    /// <summary>When the last screen read the source: a tick at the same moment need not read again
    /// (a sample of sock_diag is a dump of the namespace).</summary>
    private long _screenReadNs = long.MinValue;

    public int Frames { get; private set; }

    /// <summary>Plain snapshots, one per interval (<c>top -b</c>); a reader that goes away ends it
    /// with the IOException of the write (EPIPE), for the caller to take as a normal end.</summary>
    public void RunBatch(TextWriter to)
    {
        Begin();
        var loop = Loop();
        loop.Every(options.Interval, () =>
        {
            Advance();
            TopPlainWriter.Write(to, Frame(new TopState(options.Sort)), source.Description);
            if (++Frames >= (options.Iterations ?? int.MaxValue)) loop.Stop();
        }).Run();
    }

    /// <summary>The live view, redrawn in place (in the alternate screen where the terminal has
    /// one, as top does); keys when <paramref name="keys"/> (standard input is the terminal).</summary>
    public void RunLive(IAnsiConsole console, bool keys)
    {
        var state = new TopState(options.Sort);
        Begin();
        IRenderable Screen() => TopScreen.Render(Frame(state), source.Description, state.Paused, console.Profile.Width);
        void Live() => console.Live(Screen())
            .AutoClear(false)
            .Overflow(VerticalOverflow.Crop)
            .Cropping(VerticalOverflowCropping.Bottom)
            .Start(ctx =>
            {
                ctx.Refresh();
                void Draw()
                {
                    ctx.UpdateTarget(Screen());
                    ctx.Refresh();
                }
                var loop = Loop();
                loop.EveryTick(() =>
                {
                    // one key a tick, each drawn before the next is read
                    if (keys && console.Input.IsKeyAvailable() && console.Input.ReadKey(intercept: true) is ConsoleKeyInfo key && state.Apply(key)) Draw();
                    if (state.Quit) loop.Stop();
                });
                loop.Every(options.Interval, () =>
                {
                    if (state.Paused) return;
                    Advance();
                    Frames++;
                    Draw();
                    if (Frames >= (options.Iterations ?? int.MaxValue)) loop.Stop();
                });
                loop.Run();
            });
        if (console.Profile.Capabilities.Ansi && console.Profile.Capabilities.AlternateBuffer) console.AlternateScreen(Live);
        else Live();
    }

    /// <summary>Reads the source every tick: a stream is pumped, the diagnosis sees the queues.</summary>
    private PollLoop Loop() => new PollLoop(source.Tick, stop, clock).EveryTick(() =>
    {
        if (clock.MonotonicNs - _screenReadNs >= source.Tick.Ticks * 50) source.Aggregates.Read(); // not within half a tick of a screen's read
    });

    private void Begin()
    {
        _current = Reading();
        _findings = source.Diagnosis?.TopFindings();
    }

    private void Advance()
    {
        _previous = _current;
        _current = Reading();
        _screenReadNs = clock.MonotonicNs;
        _findings = source.Diagnosis?.TopFindings();
    }

    private TopReading Reading() => TopReading.Of(source.Aggregates.Read());

    private TopFrame Frame(TopState state) =>
        TopView.Frame(_previous, _current, source.Aggregates.Reasons, _findings, state.Sort, state.Reversed);
}
