using System.Collections.Concurrent;
using System.Globalization;
using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Dotnet;

/// <summary>
/// The application side of <c>tcpq trace</c>: joins .NET processes as they show up — at the start
/// those that own a traced listener, later each new PID on an accept row (auto), or the one PID
/// given — and, as an <see cref="IEventSource"/>, hands their app rows to <paramref name="next"/>
/// on the thread that pumps it (the trace's), so the tracker and the writers see one stream; what
/// happened to the sessions (joined, ended) goes to <paramref name="messages"/> at the same time.
/// Sits in front of <paramref name="next"/> as the kernel's sink to see accept rows go by;
/// attaching happens off that path, on a worker.
/// </summary>
public sealed class DotnetAttacher(DotnetTarget target, IReadOnlyList<ushort> ports, IReadOnlySet<EventKind>? kinds, IEventSink next, TextWriter? messages = null)
    : IEventSink, IEventSource
{
    private readonly HashSet<uint> _considered = [];
    private readonly ConcurrentQueue<TcpqEvent> _rows = new();
    private readonly LinkQueue _linkQueue = new();
    private readonly ConcurrentQueue<(string Text, uint JoinedPid)> _messages = new();
    private readonly List<AppSession> _sessions = [];
    private readonly List<Task> _attaching = [];
    private readonly QueueSink _queue = new();
    private readonly TextWriter _said = messages ?? TextWriter.Null;
    private bool _stopped;
    private readonly bool _dotnetRowsAsked = kinds is null || kinds.Any(EventKinds.IsDotnet);
    private uint _lastAcceptPid; // an accept row's process, considered already: no lock per row

    /// <summary>Off, or asked only for kernel actions and no request spans: nothing to join.</summary>
    public bool Active => target.Enabled && (RequestLinks is not null || _dotnetRowsAsked);

    /// <summary>Set before <see cref="Start"/> when spans are asked for: every process joined also
    /// sends each request's span ids and connection (ASP.NET Core's HttpRequestIn activity, through
    /// the DiagnosticSource bridge: <see cref="RequestSpanDecoder"/>), handed to this sink on the
    /// pumping thread, after the rows. Null (the default): not asked of the app, which pays for
    /// each request's event.</summary>
    public IRequestLinkSink? RequestLinks { get; set; }

    public int Attached { get { lock (_sessions) return _sessions.Count; } }

    /// <summary>How far the sessions go: as far as the rows asked for need (all, without -e filter).</summary>
    public AppDepth Depth { get; } =
        kinds is null || kinds.Contains(EventKind.AppRequest) ? AppDepth.Requests
        : kinds.Contains(EventKind.AppConn) || kinds.Contains(EventKind.AppClose) ? AppDepth.Connections
        : AppDepth.Process;

    /// <summary>Before tracing: a PID given must be a process.</summary>
    public static void Check(DotnetTarget target)
    {
        if (target.Pid is int pid && !Directory.Exists($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}"))
            throw new TcpqException(ExitCode.Usage, $"--dotnet {pid}: no such process");
    }

    /// <summary>Joins the PID given, or (auto) every .NET process listening on a traced port.</summary>
    public void Start()
    {
        if (!Active) return;
        _queue.Rows = _rows;
        if (Bpf.Privileges.MissingForOtherUsersProcesses() is { Count: > 0 } missing)
            _messages.Enqueue(($"tcpq: --dotnet {target}: without {string.Join(" and ", missing)} only .NET processes of this user can be found and joined", 0));
        if (target.Pid is int pid) Consider((uint)pid, explicitly: true);
        else Rescan();
    }

    /// <summary>Auto: joins the .NET processes listening on a traced port not joined yet (at
    /// <see cref="Start"/>, and now and then in serve and top, which see no accept rows).</summary>
    public void Rescan()
    {
        if (!Active || target.Pid is not null) return;
        foreach (int p in DotnetProcess.ListeningDotnetPids(ports)) Consider((uint)p, explicitly: false);
    }

    public void OnEvent(in TcpqEvent e)
    {
        next.OnEvent(in e);
        if (e.Kind == EventKind.Accept && e.Has(EventFlags.Task) && e.Pid != _lastAcceptPid && target.Pid is null && Active)
        {
            _lastAcceptPid = e.Pid;
            Consider(e.Pid, explicitly: false);
        }
    }

    private void Consider(uint pid, bool explicitly)
    {
        if (pid == (uint)Environment.ProcessId) return; // a framework-dependent tcpq serve listens too: never a session to itself
        lock (_considered) if (!_considered.Add(pid) || _stopped) return;
        lock (_attaching) _attaching.Add(Task.Run(() => Attach((int)pid, explicitly)));
    }

    private void Attach(int pid, bool explicitly)
    {
        var p = DotnetProcess.Read(pid);
        if (p is { IsNativeAot: true } && RequestLinks is not null)
        {
            _messages.Enqueue(($"tcpq: {p.Comm}[{pid}] is a Native AOT .NET app: its request spans cannot be joined to its connections " +
                "(the DiagnosticSource bridge fetches HttpContext.Connection by reflection, which Native AOT removes); kernel rows only", 0));
            return;
        }
        if (p is null || !p.IsDotnet)
        {
            if (explicitly) _messages.Enqueue(($"tcpq: --dotnet {pid}: not a .NET process (no libcoreclr.so mapped): kernel rows only", 0));
            return; // auto: other processes are none of our business
        }
        if (p.SocketPath is null)
        {
            _messages.Enqueue(($"tcpq: {p.Comm}[{pid}] is a .NET process without a diagnostics socket (DOTNET_EnableDiagnostics=0?): its app side is unavailable, kernel rows only", 0));
            return;
        }
        try
        {
            RequestSpanDecoder? spans = null;
            if (RequestLinks is not null)
            {
                spans = new RequestSpanDecoder(p, _linkQueue);
                spans.FirstUnconnected += SayUnconnected;
            }
            var session = AppSession.Start(p, new AppEventDecoder(p, _queue, kinds), Depth, spans);
            bool keep;
            lock (_sessions) { keep = !_stopped; if (keep) _sessions.Add(session); }
            if (!keep) { session.Dispose(); return; }
            string what = Depth switch
            {
                AppDepth.Requests => "Kestrel's connections and requests, thread pool, GC",
                AppDepth.Connections => "Kestrel's connections, thread pool, GC",
                _ => "thread pool, GC, Kestrel's refusals; -e app-conn,app-request for its connections",
            };
            if (spans is not null) what += "; its request spans, for the connections' spans";
            if (!session.Filtered) what += "; an older runtime without per-event filters: it pays more for the session";
            _messages.Enqueue(($"tcpq: joined {p.Comm}[{pid}] through its diagnostics socket ({what})", Depth == AppDepth.Process ? 0 : (uint)pid));
        }
        catch (Exception e)
        {
            _messages.Enqueue(($"tcpq: {p.Comm}[{pid}]: cannot start an EventPipe session ({e.GetType().Name}: {e.Message}): its app side is unavailable, kernel rows only", 0));
        }
    }

    /// <summary>On the trace's thread, for each process joined for its connections' rows
    /// (<see cref="AppDepth.Connections"/> or more), before its first row is handed on: its
    /// accepted connections are to wait for their app rows (see ConnectionTracker.ExpectApp).</summary>
    public event Action<uint>? Joined;

    /// <summary>On the pumping thread: says what happened, hands the app rows on; never waits.
    /// Returns the rows handed on.</summary>
    public int Pump(TimeSpan wait)
    {
        while (_messages.TryDequeue(out var m))
        {
            if (m.JoinedPid != 0) Joined?.Invoke(m.JoinedPid);
            _said.WriteLine(m.Text);
        }
        int n = 0;
        while (_rows.TryDequeue(out var e)) { next.OnEvent(in e); n++; }
        // after the rows: a request's connection was accepted before it (its accept row came first)
        while (_linkQueue.Links.TryDequeue(out var link)) RequestLinks?.OnRequestLink(in link);
        SayEnded(_said);
        return n;
    }

    /// <summary>A session's runtime drops what it cannot send in time, uncounted here; a session
    /// that ends (its process exited) is said in a line, with what it still held.</summary>
    public ulong Lost => 0;

    private readonly HashSet<AppSession> _endedSaid = [];

    /// <summary>The network namespace of a joined process, or 0.</summary>
    public uint NetNsOf(uint pid)
    {
        lock (_sessions) return _sessions.FirstOrDefault(s => s.Process.Pid == pid)?.Process.NetNs ?? 0;
    }

    /// <summary>A session that ended while tracing (the process exited, or closed its socket):
    /// one line, since rows it still held are lost with it.</summary>
    private void SayEnded(TextWriter messages)
    {
        List<AppSession> ended;
        lock (_sessions) ended = _stopped ? [] : [.. _sessions.Where(s => s.Ended && !_endedSaid.Contains(s))];
        foreach (var s in ended)
        {
            _endedSaid.Add(s);
            messages.WriteLine($"tcpq: {s.Process.Comm}[{s.Process.Pid}]'s diagnostics session ended (the process exited?){(s.Error is null ? "" : $": {s.Error}")}: " +
                "no more app rows from it; what its runtime had not yet sent is lost");
        }
    }

    /// <summary>Stops every session (each flushes what the runtime still holds): pump once more
    /// after it for the last rows.</summary>
    public void Stop()
    {
        Task[] pending;
        lock (_attaching) pending = [.. _attaching];
        Task.WaitAll(pending, TimeSpan.FromSeconds(5));
        List<AppSession> sessions;
        lock (_sessions) { _stopped = true; sessions = [.. _sessions]; _sessions.Clear(); } // once: the trace stops them before its last drain
        foreach (var s in sessions) s.Dispose();
    }

    public void Dispose() => Stop();

    private void SayUnconnected(DotnetProcess p) =>
        _messages.Enqueue(($"tcpq: {p.Comm}[{p.Pid}]: its request spans come without their connection (HttpContext.Connection could not be read: " +
            "a trimmed app?): they cannot be joined to its connections", 0));

    /// <summary>The span decoders' sink: called on their reader threads, so only a queue.</summary>
    private sealed class LinkQueue : IRequestLinkSink
    {
        public readonly ConcurrentQueue<RequestLink> Links = new();
        public void OnRequestLink(in RequestLink link) => Links.Enqueue(link);
    }

    /// <summary>The decoders' sink: called on their reader threads, so only a queue.</summary>
    private sealed class QueueSink : IEventSink
    {
        public ConcurrentQueue<TcpqEvent>? Rows;
        public void OnEvent(in TcpqEvent e) => Rows!.Enqueue(e);
    }
}
