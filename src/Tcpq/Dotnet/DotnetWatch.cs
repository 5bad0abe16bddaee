using Tcpq.Aggregates;
using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Dotnet;

/// <summary>
/// The application side of the always-on commands (<c>serve</c>, <c>top</c>): joins, with the
/// default session (thread pool, GC pauses, Kestrel's refusals), the .NET processes that own a
/// watched listener — found again at each <see cref="Rescan"/>, since the kernel's aggregates
/// carry no accept rows to find them by — or the one PID given, and keeps each one's figures. A
/// process that has exited is dropped at the next read. <see cref="DotnetAggregateSource"/> puts
/// its readings into the snapshots.
/// </summary>
public sealed class DotnetWatch : IDisposable
{
    /// <summary>The default session's rows: all about a process, none about a connection.</summary>
    public static readonly IReadOnlySet<EventKind> Kinds = new HashSet<EventKind> { EventKind.AppReject, EventKind.AppPool, EventKind.AppStarve, EventKind.AppGc };

    private readonly DotnetAttacher _attacher;
    private readonly IReadOnlyList<ushort> _ports;
    private readonly Dictionary<uint, AppProcessStats> _apps = [];
    /// <summary>The watched ports each process listens on, looked up again after each rescan.</summary>
    private readonly Dictionary<uint, IReadOnlySet<ushort>> _listening = [];
    /// <summary>Each process's last reading, made again only when a row of its came or a rescan
    /// happened: top reads every tick, and a process's rows come about once a second.</summary>
    private readonly Dictionary<uint, AppReading> _readings = [];
    private readonly Lock _lock = new();

    /// <param name="messages">Where what happened to the sessions is said (joined, ended…).</param>
    public DotnetWatch(DotnetTarget target, IReadOnlyList<ushort> ports, TextWriter messages)
    {
        _ports = ports;
        _attacher = new DotnetAttacher(target, ports, Kinds, new Sink(_apps, _readings), messages);
    }

    public bool Active => _attacher.Active;

    /// <summary>Set before <see cref="Start"/> when serve's spans are asked for: each joined
    /// process's request spans (<see cref="DotnetAttacher.RequestLinks"/>), handed to the sink at
    /// each <see cref="Read"/>, under its lock.</summary>
    public IRequestLinkSink? RequestLinks { get => _attacher.RequestLinks; set => _attacher.RequestLinks = value; }

    public void Start() => _attacher.Start();

    /// <summary>Joins .NET processes that began to listen on a watched port since the last time,
    /// and looks again at which ports the joined ones listen on.</summary>
    public void Rescan()
    {
        _attacher.Rescan();
        lock (_lock)
        {
            _listening.Clear();
            _readings.Clear();
        }
    }

    /// <summary>Takes in what the sessions sent since the last read (and says what happened), and
    /// returns each joined process's figures, by pid.</summary>
    public IReadOnlyList<AppReading> Read()
    {
        lock (_lock)
        {
            _attacher.Pump(TimeSpan.Zero);
            if (_apps.Count == 0) return [];
            foreach (var pid in _apps.Keys.Where(p => !Directory.Exists($"/proc/{p}")).ToList())
            {
                _apps.Remove(pid);
                _listening.Remove(pid);
                _readings.Remove(pid);
            }
            return [.. _apps.Values.OrderBy(a => a.Pid).Select(ReadingOf)];
        }
    }

    private AppReading ReadingOf(AppProcessStats a)
    {
        if (_readings.TryGetValue(a.Pid, out var reading)) return reading;
        return _readings[a.Pid] = new AppReading(
            a.Pid, a.Comm, a.LastThreads, a.LastQueue, a.PoolSamples, a.StarvationAdjustments, a.BlockingAdjustments,
            a.GcPauses, a.GcPauseTotalNs / 1e9, a.Rejected)
        {
            NetNs = _attacher.NetNsOf(a.Pid),
            ListeningPorts = ListeningPorts(a.Pid),
            Summary = AppSummary.OfProcess(a),
        };
    }

    private IReadOnlySet<ushort> ListeningPorts(uint pid)
    {
        if (!_listening.TryGetValue(pid, out var ports)) _listening[pid] = ports = DotnetProcess.ListeningPorts((int)pid, _ports);
        return ports;
    }

    public void Dispose() => _attacher.Dispose();

    private sealed class Sink(Dictionary<uint, AppProcessStats> apps, Dictionary<uint, AppReading> readings) : IEventSink
    {
        public void OnEvent(in TcpqEvent e)
        {
            if (!apps.TryGetValue(e.Pid, out var app))
            {
                if (apps.Count >= 1024) return; // bounded, as the tracker's
                apps.Add(e.Pid, app = new AppProcessStats(e.Pid, e.Comm));
            }
            app.OnEvent(e); // its list of pauses is bounded (AppProcessStats.MaxPausesKept)
            readings.Remove(e.Pid);
        }
    }
}
