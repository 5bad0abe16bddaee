using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Dotnet;

/// <summary>One .NET process's runtime as <c>serve</c> exports it: the thread pool at its last
/// sample, and totals since tcpq joined it.</summary>
public sealed record AppReading(
    uint Pid, string Comm, uint Threads, uint QueuedWorkItems, long PoolSamples,
    long StarvationInjections, long BlockingInjections, long GcPauses, double GcPauseSeconds, long KestrelRejected);

/// <summary>
/// The application side of the always-on commands (<c>serve</c>): joins, with the default session
/// (thread pool, GC pauses, Kestrel's refusals), the .NET processes that own a traced listener —
/// found again at each <see cref="Rescan"/>, since the kernel's aggregates carry no accept rows
/// to find them by — or the one PID given, and keeps each one's figures. A process that has exited
/// is dropped at the next read.
/// </summary>
public sealed class DotnetWatch : IDisposable
{
    /// <summary>The default session's rows: all about a process, none about a connection.</summary>
    public static readonly IReadOnlySet<EventKind> Kinds = new HashSet<EventKind> { EventKind.AppReject, EventKind.AppPool, EventKind.AppStarve, EventKind.AppGc };

    private readonly DotnetAttacher _attacher;
    private readonly TextWriter _messages;
    private readonly Dictionary<uint, AppProcessStats> _apps = [];
    private readonly Lock _lock = new();
    private readonly Sink _sink;

    public DotnetWatch(DotnetTarget target, IReadOnlyList<ushort> ports, TextWriter messages)
    {
        _attacher = new DotnetAttacher(target, ports, Kinds, IEventSink.None);
        _messages = messages;
        _sink = new Sink(_apps);
    }

    public bool Active => _attacher.Active;

    public void Start() => _attacher.Start();

    /// <summary>Joins .NET processes that began to listen on a traced port since the last time.</summary>
    public void Rescan() => _attacher.Rescan();

    /// <summary>Takes in what the sessions sent since the last read (and says what happened), and
    /// returns each joined process's figures, by pid.</summary>
    public IReadOnlyList<AppReading> Read()
    {
        lock (_lock)
        {
            _attacher.Drain(_sink, _messages);
            foreach (var pid in _apps.Keys.Where(p => !Directory.Exists($"/proc/{p}")).ToList()) _apps.Remove(pid);
            return [.. _apps.Values.OrderBy(a => a.Pid).Select(a => new AppReading(
                a.Pid, a.Comm, a.LastThreads, a.LastQueue, a.PoolSamples, a.StarvationAdjustments, a.BlockingAdjustments,
                a.GcPauses, a.GcPauseTotalNs / 1e9, a.Rejected))];
        }
    }

    /// <summary>For top's diagnosis: the joined process that listens on <paramref name="key"/>'s port
    /// in its network namespace, as the rules read an app (its pool, injections, pauses, refusals;
    /// no per-connection join: top's aggregates have none), or null.</summary>
    public AppSummary? SummaryFor(in ListenerKey key)
    {
        var (netns, port) = (key.NetNs, key.Port);
        lock (_lock)
        {
            _attacher.Drain(_sink, _messages);
            var a = _apps.Values.FirstOrDefault(a => _attacher.NetNsOf(a.Pid) == netns && DotnetProcess.ListensOn((int)a.Pid, port));
            return a is null ? null : AppSummary.OfProcess(a);
        }
    }

    public void Dispose() => _attacher.Dispose();

    private sealed class Sink(Dictionary<uint, AppProcessStats> apps) : IEventSink
    {
        public void OnEvent(in TcpqEvent e)
        {
            if (!apps.TryGetValue(e.Pid, out var app))
            {
                if (apps.Count >= 1024) return; // bounded, as the tracker's
                apps.Add(e.Pid, app = new AppProcessStats(e.Pid, e.Comm));
            }
            app.OnEvent(e); // its list of pauses is bounded (AppProcessStats.MaxPausesKept)
        }
    }
}
