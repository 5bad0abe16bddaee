using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>
/// Joins the event stream into one <see cref="ConnectionTimeline"/> per connection (netns +
/// 4-tuple) and counts them per listener (netns + address + port). Time is the events' own
/// (the largest timestamp seen), so a file is read exactly as the live stream was.
/// Fed from the ring buffer callback as an <see cref="IEventSink"/>, or from a file's rows.
/// </summary>
public sealed class ConnectionTracker(TrackerOptions? options = null) : IEventSink, IRequestLinkSink
{
    private readonly TrackerOptions _options = options ?? new TrackerOptions();
    private readonly Dictionary<ListenerKey, ListenerStats> _listeners = [];
    private ConnectionTable? _table;
    private ListenerStats? _overflow;

    private ConnectionTable Table => _table ??= new ConnectionTable(_options.MaxConnections);

    /// <summary>The input has no drop rows (the seed format): a retried SYN that found the accept
    /// queue at its limit is counted as dropped. A live trace reports every drop itself, and a SYN
    /// that finds Q = Qmax on Linux is admitted (the kernel drops at Q > Qmax), so it never infers.</summary>
    public bool InferDropsFromQueues { get; set; }

    public long Events { get; private set; }
    public ulong NowNs { get; private set; }
    public int Following => _table?.Count ?? 0;
    public IEnumerable<ListenerStats> Listeners => _overflow is null ? _listeners.Values : _listeners.Values.Append(_overflow);

    /// <summary>.NET processes whose app rows were seen, by PID (at most <see cref="TrackerOptions.MaxListeners"/>).</summary>
    public IReadOnlyDictionary<uint, AppProcessStats> Apps => _apps;
    private readonly Dictionary<uint, AppProcessStats> _apps = [];
    private readonly HashSet<uint> _expected = [];

    /// <summary>A process was joined (--dotnet) and its app rows will follow, later than the kernel's:
    /// the connections it accepts wait for them instead of lingering 2 s.</summary>
    public void ExpectApp(uint pid)
    {
        _appRowsCome = true;
        if (_expected.Count < _options.MaxListeners) _expected.Add(pid);
    }

    /// <summary>Rows or request spans from a .NET process come (or were announced): they come late,
    /// through EventPipe, so finished connections linger at least <see cref="TrackerOptions.AppLingerNs"/>.</summary>
    private bool _appRowsCome;
    private ulong LingerNs => _appRowsCome ? Math.Max(_options.LingerNs, TrackerOptions.AppLingerNs) : _options.LingerNs;

    public void OnEvent(in TcpqEvent e)
    {
        Events++;
        if (e.TsNs > NowNs) NowNs = e.TsNs;
        if (EventKinds.IsDotnet(e.Kind))
        {
            OnAppEvent(e);
            return;
        }
        var key = ConnectionKey.Of(e);
        var table = Table;
        var t = table.Find(key);
        if (t != null && StartsAnother(t, e))
        {
            if (MayStillHearFrom(t)) KeepAsPrevious(t); // the new one is added in front of it
            else End(t, TimelineEnd.Completed);
            t = null;
        }
        else if (t != null && e.Kind == EventKind.Accept && AcceptsPrevious(t, e))
        {
            t = OldestWaiting(t) ?? t;
        }
        if (t == null)
        {
            MakeRoom(table);
            t = table.Add(key);
            t.Expect = _options.Application;
            t.KeepMarks = _options.KeepMarks;
        }
        if (_options.CountListeners)
        {
            bool retry = e.Kind == EventKind.Syn && (e.Has(EventFlags.Attempt) ? e.Attempt > 1 : t.Syns > 0);
            ListenerOf(key.Listener).OnEvent(e, retry, t.Established && !t.Done);
        }
        t.Apply(e);
        if (e.Kind == EventKind.Accept && e.Has(EventFlags.Task) && ((_apps.TryGetValue(e.Pid, out var a) && a.ConnectionRows) || _expected.Contains(e.Pid))) t.AppExpected = true;
        table.Touch(t);
        Expire(table);
    }

    /// <summary>An app row: a process's runtime (pool, starvation, GC), or a stage of a connection
    /// the kernel's rows already follow. One that finds no connection (accepted before tracing, or
    /// already ended) is only counted: the application never starts a connection of its own here.</summary>
    private void OnAppEvent(in TcpqEvent e)
    {
        var app = AppOf(e);
        if (!EventKinds.HasTuple(e))
        {
            app?.OnEvent(e);
            return;
        }
        if (app != null) app.ConnectionRows = true;
        if (e.Kind == EventKind.AppRequest && app != null) app.Requests++;
        var key = ConnectionKey.Of(e);
        var t = Table.Find(key);
        ulong start = AppStartNs(e);
        if (t != null && (!t.Accepted || t.AcceptNs > start)) t = AcceptedBefore(t, start) ?? t; // the 4-tuple's previous connection's row
        if (t == null)
        {
            if (app != null) app.Unjoined++;
            return;
        }
        if (_options.CountListeners) ListenerOf(t.Key.Listener).OnAppEvent(e);
        t.Apply(e);
        Table.Touch(t);
    }

    /// <summary>The newest connection held on this network namespace and 4-tuple, or null.</summary>
    public ConnectionTimeline? Find(in ConnectionKey key) => _table?.Find(key);

    /// <summary>What became of the application's request spans (<see cref="OnRequestLink"/>).</summary>
    public RequestLinkCounts RequestLinks { get; } = new();

    /// <summary>A request span of a .NET app, joined to its connection by the network namespace,
    /// the 4-tuple and the process: the connection on the 4-tuple accepted at or before the
    /// request started, by the process that served it. One that finds none is only counted.</summary>
    public void OnRequestLink(in RequestLink link)
    {
        _appRowsCome = true;
        var t = _table?.Find(link.Connection);
        if (t != null && (!t.Accepted || t.AcceptNs > link.StartNs)) t = AcceptedBefore(t, link.StartNs) ?? t;
        if (t == null || !t.Accepted || (t.Pid != 0 && t.Pid != link.Pid))
        {
            RequestLinks.Unjoined++;
            return;
        }
        if (t.AddRequestSpan(new AppRequestSpan(link.TraceId, link.SpanId, link.StartNs))) RequestLinks.Joined++;
        else RequestLinks.PastLimit++;
        _table!.Touch(t);
    }

    /// <summary>When what an app row tells of began: Kestrel's connection start, or the request's or
    /// the connection's start (its end less its duration): never before its connection's accept().</summary>
    private static ulong AppStartNs(in TcpqEvent e) =>
        e.Kind is EventKind.AppRequest or EventKind.AppClose && e.Has(EventFlags.Wait) && e.WaitNs <= e.TsNs ? e.TsNs - e.WaitNs : e.TsNs;

    /// <summary>The newest previous connection on the 4-tuple accepted at or before <paramref name="ns"/>.</summary>
    private static ConnectionTimeline? AcceptedBefore(ConnectionTimeline newest, ulong ns)
    {
        for (var t = newest.Older; t != null; t = t.Older)
            if (t.Accepted && t.AcceptNs <= ns) return t;
        return null;
    }

    private AppProcessStats? AppOf(in TcpqEvent e)
    {
        _appRowsCome = true;
        if (!e.Has(EventFlags.Task)) return null;
        if (_apps.TryGetValue(e.Pid, out var app)) return app;
        if (_apps.Count >= _options.MaxListeners) return null;
        _apps.Add(e.Pid, app = new AppProcessStats(e.Pid, e.Comm));
        return app;
    }

    /// <summary>Ends every connection still held: call when the stream ends.</summary>
    public void Complete()
    {
        if (_table is null) return;
        foreach (var t in _table.All()) End(t, t.Done ? TimelineEnd.Completed : TimelineEnd.StillOpen);
    }

    /// <summary>A first SYN after the connection finished: the client reused the 4-tuple. An
    /// earlier-stamped event is a late one for this connection instead.</summary>
    private static bool StartsAnother(ConnectionTimeline t, in TcpqEvent e) =>
        t.Done && e.Kind == EventKind.Syn && (!e.Has(EventFlags.Attempt) || e.Attempt <= 1)
        && e.TsNs > Math.Max(Math.Max(t.AcceptNs, t.AbortNs), t.EstablishedNs);

    /// <summary>Previous connections on one 4-tuple kept for their accept() or their app rows: a
    /// client that resets and reconnects from the same port can have several in one accept queue,
    /// and one that reconnects from the port at once (the server closed first, so the client's side
    /// is free) can do so before the runtime's rows of the first connection came.</summary>
    private const int MaxPrevious = 64;

    /// <summary>The client connects again from the same port while the old connection may still
    /// hear from: reset while queued (accept() will yet take it), or accepted by a process whose
    /// .NET app rows (or request spans) come through EventPipe, later than the kernel's (in a saved trace, after them).
    /// Any other finished connection is ended: nothing more can come for it (a load that reuses
    /// client ports at once would otherwise hold every connection for the linger time).</summary>
    private static bool MayStillHearFrom(ConnectionTimeline t) =>
        (t.Aborted && !t.Accepted) || (t.Accepted && (t.AppExpected || t.AppJoined || t.RequestSpans is { Count: > 0 }));

    /// <summary>Keeps <paramref name="t"/> behind the connection about to be added on its 4-tuple
    /// (<see cref="ConnectionTable.Add"/> chains them), with at most <see cref="MaxPrevious"/> held
    /// behind: the oldest past that is ended.</summary>
    private void KeepAsPrevious(ConnectionTimeline t)
    {
        var last = t;
        for (int g = 1; g < MaxPrevious && last.Older != null; g++) last = last.Older;
        while (last.Older is { } beyond) End(beyond, TimelineEnd.Completed);
    }

    /// <summary>The accept queue is first in, first out: the oldest previous connection not yet accepted.</summary>
    private static ConnectionTimeline? OldestWaiting(ConnectionTimeline newest)
    {
        ConnectionTimeline? waiting = null;
        for (var t = newest.Older; t != null; t = t.Older)
            if (!t.Accepted) waiting = t;
        return waiting;
    }

    /// <summary>An accept that cannot be this connection's: it was established before this
    /// connection's first SYN (by the accept's own Wait us), or this one is not established yet.</summary>
    private static bool AcceptsPrevious(ConnectionTimeline t, in TcpqEvent e) =>
        !t.Established || (e.Has(EventFlags.Wait) && t.FirstSynNs != 0 && e.WaitNs <= e.TsNs && e.TsNs - e.WaitNs < t.FirstSynNs);

    private void MakeRoom(ConnectionTable table)
    {
        if (table.Count < table.Capacity) return;
        // a finished connection goes first: only late events could still come for it
        var victim = table.OldestDone;
        if (victim != null) End(victim, TimelineEnd.Completed);
        else End(table.OldestOpen!, table.OldestOpen!.Done ? TimelineEnd.Completed : TimelineEnd.Evicted); // accepted, still awaiting the application: its queues are done
    }

    /// <summary>Ends the connections whose linger or idle time has passed by <paramref name="nowNs"/>
    /// (the kernel's clock), as the next event would: a live trace that hands finished connections
    /// on (<see cref="TrackerOptions.Finished"/>) calls it at each tick, so the last connections of
    /// a burst do not wait for more traffic.</summary>
    public void ExpireAt(ulong nowNs)
    {
        if (_table is not null) Expire(_table, Math.Max(nowNs, NowNs));
    }

    private void Expire(ConnectionTable table) => Expire(table, NowNs);

    private void Expire(ConnectionTable table, ulong now)
    {
        for (var t = table.OldestDone; t != null && t.LastNs + LingerNs < now; t = table.OldestDone)
            End(t, TimelineEnd.Completed);
        for (var t = table.OldestOpen; t != null && t.LastNs + _options.IdleTimeoutNs < now; t = table.OldestOpen)
            End(t, t.Aborted || t.Accepted ? TimelineEnd.Completed : TimelineEnd.Expired); // a reset one never accepted: it ended with its abort; an accepted one waited for its application's rows (first-read…, or a .NET app's)
    }

    private void End(ConnectionTimeline t, TimelineEnd end)
    {
        t.InferDrops = InferDropsFromQueues;
        if (_options.CountListeners) ListenerOf(t.Key.Listener).OnEnd(t, end);
        _options.Finished?.Invoke(t, end);
        _table!.Remove(t);
    }

    // the listener of the last event: a trace is mostly one or a few listeners, and this saves a
    // lookup for nearly every event
    private ListenerKey _lastKey;
    private ListenerStats? _last;

    private ListenerStats ListenerOf(in ListenerKey key)
    {
        if (_last is not null && _lastKey.Equals(key)) return _last;
        var l = Lookup(key);
        (_lastKey, _last) = (key, l);
        return l;
    }

    private ListenerStats Lookup(in ListenerKey key)
    {
        if (_listeners.TryGetValue(key, out var l)) return l;
        if (_listeners.Count < _options.MaxListeners)
        {
            l = new ListenerStats(key, slowestCount: _options.SlowestPerListener);
            _listeners.Add(key, l);
            return l;
        }
        return _overflow ??= new ListenerStats(default, isOverflow: true, _options.SlowestPerListener);
    }
}
