using Tcpq.Events;

namespace Tcpq.Diag;

/// <summary>
/// The fallback tracer: compares successive sock_diag dumps of one namespace and writes what
/// changed as the eBPF tracer's events into an <see cref="IEventSink"/>, so the rows, the tracker
/// and the summary are the same. It sees states, not
/// packets: a handshake that starts and finishes between two samples shows only as its syn-aa,
/// one queued and accepted between two samples shows as a syn-aa and an accept in the same
/// sample (with no Wait), one that comes and goes entirely is missed, and a syn-drop row carries in Attempt the number
/// of drops the listener counted since the previous sample. Made by <see cref="Open"/>, it is an
/// <see cref="IEventSource"/> that samples the current namespace at every pump.
/// </summary>
public sealed class DiagSampler : IEventSource
{
    /// <summary>What one dump asks for: listeners, request sockets, and connections in every state
    /// one can be in while queued or just after accept() (to tell an accept from an abort).</summary>
    public static readonly uint States = NetlinkMessages.StateMask(
        TcpState.Listen, TcpState.SynRecv, TcpState.Established, TcpState.CloseWait,
        TcpState.FinWait1, TcpState.FinWait2, TcpState.LastAck, TcpState.Closing, TcpState.TimeWait);

    private readonly uint _netns;
    private readonly Func<ushort, bool>? _portFilter;
    private readonly IReadOnlySet<EventKind>? _kinds;
    private readonly IEventSink _sink;
    private readonly Func<IReadOnlySet<ulong>, SocketOwners> _owners;

    private Dictionary<ulong, (uint? Drops, uint Q)> _listeners = [];
    private Dictionary<Connection, long> _requests = [];
    private Dictionary<Connection, Queued> _queued = [];
    private HashSet<Connection> _connections = [];
    private bool _baseline = true;
    private readonly List<TcpqEvent> _events = [];
    private SockDiagClient? _client;

    public long Events { get; private set; }
    public long Samples { get; private set; }
    public uint NetNs => _netns;

    /// <param name="owners">Finds the processes holding the given socket inodes (for accept rows).</param>
    public DiagSampler(uint netns, IReadOnlyCollection<ushort> ports, IReadOnlySet<EventKind>? kinds, IEventSink sink,
        Func<IReadOnlySet<ulong>, SocketOwners>? owners = null)
    {
        _netns = netns;
        _portFilter = ports.Count == 0 ? null : new HashSet<ushort>(ports).Contains;
        _kinds = kinds;
        _sink = sink;
        _owners = owners ?? (inodes => SocketOwners.Scan(inodes));
    }

    /// <summary>Samples sock_diag in the current network namespace into <paramref name="sink"/>: the
    /// one way every command makes this source. The first sample is taken here, as the baseline:
    /// what is already there is not an event.</summary>
    public static DiagSampler Open(IReadOnlyList<ushort> ports, IReadOnlySet<EventKind>? kinds, IEventSink sink)
    {
        var client = SockDiagClient.Open();
        try
        {
            var sampler = new DiagSampler(NetNamespaces.CurrentInode(), ports, kinds, sink) { _client = client };
            sampler.Pump(TimeSpan.Zero);
            return sampler;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>One sample, now; never waits. Returns the events it handed on.</summary>
    public int Pump(TimeSpan wait)
    {
        var client = _client ?? throw new InvalidOperationException("a sampler made without a sock_diag client (DiagSampler.Open makes one) is fed by Sample");
        long before = Events;
        Sample(WallClock.MonotonicNowNs(), client.DumpBoth(States, withDrops: true));
        return (int)(Events - before);
    }

    /// <summary>Sampled: what came and went between two samples is not seen, and not counted either.</summary>
    public ulong Lost => 0;

    public void Dispose() => _client?.Dispose();

    private readonly record struct Connection(Address16 Local, ushort LocalPort, Address16 Remote, ushort RemotePort)
    {
        public static Connection Of(in DiagSocket s) => new(s.LocalAddress, s.LocalPort, s.RemoteAddress, s.RemotePort);
    }

    private readonly record struct Queued(long FirstSeenNs, long? SynSeenNs);

    /// <summary>Takes one dump, taken at <paramref name="nowNs"/> (monotonic), and writes the
    /// events since the previous one. The first dump only sets the baseline.</summary>
    public void Sample(long nowNs, IReadOnlyList<DiagSocket> sockets)
    {
        Samples++;
        var index = new ListenerIndex(sockets, _portFilter);
        var listeners = index.Listeners;
        var q0 = index.CountRequests(sockets);
        var arrivals = new int[listeners.Count];
        var seenLeaving = new int[listeners.Count];

        var requests = new Dictionary<Connection, long>();
        var queued = new Dictionary<Connection, Queued>();
        var accepted = new List<(Connection Key, Queued Q, int Listener, uint Inode)>();
        var connections = new HashSet<Connection>();
        foreach (var s in sockets)
        {
            if (s.State == TcpState.Listen) continue;
            int li = index.Find(s.LocalAddress, s.LocalPort);
            if (li < 0) continue;
            var key = Connection.Of(s);
            if (s.State == TcpState.SynRecv)
            {
                bool isNew = !_requests.TryGetValue(key, out long first);
                requests[key] = isNew ? nowNs : first;
                if (isNew && !_baseline) Add(EventKind.Syn, nowNs, key, listeners[li], q0[li]);
            }
            else if (!connections.Add(key))
            {
                continue; // the same connection twice in one dump (the kernel walks a changing table)
            }
            else if (s.Inode == 0 && s.State is TcpState.Established or TcpState.CloseWait)
            {
                // established, no file yet: waiting in the accept queue
                if (_queued.TryGetValue(key, out var q)) { queued[key] = q; continue; }
                long? syn = _requests.TryGetValue(key, out long synNs) ? synNs : null;
                queued[key] = new Queued(nowNs, syn);
                arrivals[li]++;
                if (_baseline) continue;
                var e = Event(EventKind.SynAa, nowNs, key, listeners[li], q0[li]);
                if (syn is long t) { e.WaitNs = (ulong)(nowNs - t); e.Flags |= EventFlags.Wait; }
                Add(e);
            }
            else if (_queued.TryGetValue(key, out var left))
            {
                // it has a file (accept() made one), or the application has already closed it
                accepted.Add((key, left, li, s.Inode));
                seenLeaving[li]++;
            }
            else if (!_baseline && s.Inode != 0 && s.State is TcpState.Established or TcpState.CloseWait && !_connections.Contains(key))
            {
                // new and already accepted: it went through the queue between two samples
                long? syn = _requests.TryGetValue(key, out long synNs) ? synNs : null;
                var e = Event(EventKind.SynAa, nowNs, key, listeners[li], q0[li]);
                if (syn is long t) { e.WaitNs = (ulong)(nowNs - t); e.Flags |= EventFlags.Wait; }
                Add(e);
                accepted.Add((key, new Queued(nowNs, syn), li, s.Inode));
            }
        }

        WriteAccepts(nowNs, accepted, listeners, q0);
        WriteVanished(nowNs, queued, accepted, index, arrivals, seenLeaving, q0);
        WriteDrops(nowNs, listeners, q0);

        _requests = requests;
        _queued = queued;
        _connections = connections;
        _baseline = false;
        Flush();
    }

    private void WriteAccepts(long nowNs, List<(Connection Key, Queued Q, int Listener, uint Inode)> accepted,
        IReadOnlyList<DiagSocket> listeners, uint[] q0)
    {
        if (accepted.Count == 0) return;
        var inodes = accepted.Where(a => a.Inode != 0).Select(a => (ulong)a.Inode).ToHashSet();
        var owners = inodes.Count > 0 && Wants(EventKind.Accept) ? _owners(inodes) : SocketOwners.Empty;
        foreach (var (key, q, li, inode) in accepted)
        {
            var e = Event(EventKind.Accept, nowNs, key, listeners[li], q0[li]);
            if (q.FirstSeenNs != nowNs)
            {
                e.WaitNs = (ulong)(nowNs - q.FirstSeenNs);
                e.Flags |= EventFlags.Wait;
            }
            var who = owners.Of(inode);
            if (who.Count > 0) SetTask(ref e, who[0]);
            Add(e);
        }
    }

    /// <summary>A queued connection gone from the dump was either accepted and closed between
    /// samples, or reset by its client (it then stays in the accept queue, unhashed). The
    /// listener's Q tells how many accept() took: what it lost beyond the accepts seen.</summary>
    private void WriteVanished(long nowNs, Dictionary<Connection, Queued> queued,
        List<(Connection Key, Queued Q, int Listener, uint Inode)> accepted,
        ListenerIndex index, int[] arrivals, int[] seenLeaving, uint[] q0)
    {
        var leftSeen = accepted.Select(a => a.Key).ToHashSet();
        var acceptsLeft = new int[index.Listeners.Count];
        for (int i = 0; i < acceptsLeft.Length; i++)
        {
            var l = index.Listeners[i];
            uint prevQ = _listeners.TryGetValue(l.Cookie, out var p) ? p.Q : l.Q;
            acceptsLeft[i] = (int)prevQ + arrivals[i] - seenLeaving[i] - (int)l.Q;
        }
        foreach (var (key, q) in _queued)
        {
            if (queued.ContainsKey(key) || leftSeen.Contains(key)) continue;
            int li = index.Find(key.Local, key.LocalPort);
            bool accept = li >= 0 && acceptsLeft[li]-- > 0;
            var listener = li >= 0 ? index.Listeners[li] : default;
            var e = Event(accept ? EventKind.Accept : EventKind.Abort, nowNs, key, listener, li >= 0 ? q0[li] : 0);
            if (li < 0) e.Flags &= ~EventFlags.Queues;
            e.WaitNs = (ulong)(nowNs - q.FirstSeenNs);
            e.Flags |= EventFlags.Wait;
            Add(e);
        }
    }

    private void WriteDrops(long nowNs, IReadOnlyList<DiagSocket> listeners, uint[] q0)
    {
        var next = new Dictionary<ulong, (uint? Drops, uint Q)>(listeners.Count);
        for (int i = 0; i < listeners.Count; i++)
        {
            var l = listeners[i];
            next[l.Cookie] = (l.Drops, l.Q);
            if (_baseline || !_listeners.TryGetValue(l.Cookie, out var before)) continue;
            if (l.Drops is not uint now || before.Drops is not uint then || now == then) continue;
            uint rose = now - then; // the counter wraps like the kernel's atomic_t
            var e = Event(EventKind.SynDrop, nowNs, new Connection(l.LocalAddress, l.LocalPort, l.LocalAddress.AnyOfFamily, 0), l, q0[i]);
            e.Attempt = rose;
            e.Drops = now;
            e.Flags |= EventFlags.Attempt | EventFlags.Drops;
            e.Reason = l.Q > l.QMax ? DropReasons.AcceptQueueFull : q0[i] >= l.QMax ? DropReasons.SynQueueFull : 0;
            Add(e);
        }
        _listeners = next;
    }

    private TcpqEvent Event(EventKind kind, long nowNs, Connection c, in DiagSocket listener, uint q0)
    {
        var e = new TcpqEvent
        {
            TsNs = (ulong)nowNs,
            SourceAddress = c.Remote,
            SourcePort = c.RemotePort,
            DestAddress = c.Local,
            DestPort = c.LocalPort,
            NetNs = _netns,
            Q0 = q0,
            Q = listener.Q,
            QMax = listener.QMax,
            Kind = kind,
            Flags = EventFlags.Queues,
        };
        return e;
    }

    private void Add(EventKind kind, long nowNs, Connection c, in DiagSocket listener, uint q0) =>
        Add(Event(kind, nowNs, c, listener, q0));

    private void Add(in TcpqEvent e)
    {
        if (Wants(e.Kind)) _events.Add(e);
    }

    private bool Wants(EventKind kind) => _kinds is null || _kinds.Contains(kind);

    private void Flush()
    {
        // within a sample: handshakes, then accepts and aborts, then drops
        foreach (var e in _events.OrderBy(e => e.Kind switch { EventKind.Syn => 0, EventKind.SynAa => 1, EventKind.Accept => 2, EventKind.Abort => 3, _ => 4 }))
            _sink.OnEvent(in e);
        Events += _events.Count;
        _events.Clear();
    }

    private static void SetTask(ref TcpqEvent e, SocketOwner owner)
    {
        e.Pid = (uint)owner.Pid;
        e.Comm = Comm16.From(owner.Comm);
        e.Flags |= EventFlags.Task;
    }
}
