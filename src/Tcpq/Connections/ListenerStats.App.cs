using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>The application's side of a listener's connections (app-* rows joined to them).</summary>
public sealed partial class ListenerStats
{
    /// <summary>A wait in the accept queue at least this long is kept (up to <see cref="MaxLongWaits"/>)
    /// to be matched against the accepting process's GC pauses.</summary>
    public const ulong LongWaitNs = 10_000_000;
    public const int MaxLongWaits = 16384;

    public long AppJoined, AppRejected, AppRequests;
    public readonly LatencyHistogram AcceptToApp = new(), FirstRequest = new();
    /// <summary>Accepted connections by the accepting PID.</summary>
    public readonly Dictionary<uint, long> AcceptPids = [];
    public readonly List<(ulong StartNs, ulong EndNs, uint Pid)> LongWaits = [];
    public long LongWaitCount;

    internal void OnAppEvent(in TcpqEvent e)
    {
        if (e.Kind == EventKind.AppRequest) AppRequests++;
    }

    private void OnEndApp(ConnectionTimeline t)
    {
        if (t.Accepted && t.Pid != 0) AcceptPids[t.Pid] = AcceptPids.GetValueOrDefault(t.Pid) + 1;
        if (t.QueueWait is ulong w && w >= LongWaitNs && t.Accepted)
        {
            LongWaitCount++;
            if (LongWaits.Count < MaxLongWaits) LongWaits.Add((t.AcceptNs - w, t.AcceptNs, t.Pid));
        }
        if (!t.AppJoined) return;
        AppJoined++;
        if (t.AppRejected) AppRejected++;
        if (t.AcceptToApp is ulong a) AcceptToApp.RecordNs(a);
        if (t.HasFirstRequest) FirstRequest.RecordNs(t.FirstRequestNs);
    }
}
