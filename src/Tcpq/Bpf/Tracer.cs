using Tcpq.Events;
using Tcpq.Interop;

namespace Tcpq.Bpf;

/// <summary>
/// Owns everything tcpq puts into the kernel: the loaded object, one link per program, the ring
/// buffer reader. Disposing it detaches and unloads all of it (also on SIGINT/SIGTERM). As an
/// <see cref="IEventSource"/> it reads the ring buffers (one per CPU) into the sink given at
/// <see cref="Start"/>, merged into time order.
/// </summary>
public sealed class Tracer : IEventSource
{
    private static readonly string[] TracingPrograms =
    [
        "tcpq_consume_skb", "tcpq_kfree_skb", "tcpq_set_state", "tcpq_synack_retrans",
        "tcpq_exit_accept4", "tcpq_exit_accept", "tcpq_recv", "tcpq_send", "tcpq_data_ready",
        .. UringAccepts.Programs,
    ];

    private static readonly EventKind[] ApplicationKinds = [EventKind.FirstRead, EventKind.FirstWrite, EventKind.Close];

    /// <summary>Programs that only serve some kinds of rows: not loaded when --events leaves all of
    /// them out. The accept hooks are syscall tracepoints, which put every syscall of every process on
    /// the machine through the tracepoint exit path while attached (~35 ns a syscall, measured with
    /// dd bs=1); the application's rows need them too, for the time of accept(), and so do io_uring's
    /// accept hooks (which rows mode alone loads: <see cref="UringAccepts"/>). The read, write and
    /// data-ready hooks run for every socket operation on the machine (bench/RESULTS.md says what
    /// that costs).</summary>
    private static readonly (string Program, EventKind[] Kinds)[] OptionalPrograms =
    [
        ("tcpq_synack_retrans", [EventKind.SynAckRetrans]),
        ("tcpq_exit_accept4", [EventKind.Accept, .. ApplicationKinds]),
        ("tcpq_exit_accept", [EventKind.Accept, .. ApplicationKinds]),
        .. UringAccepts.Programs.Select(p => (p, (EventKind[])[EventKind.Accept, .. ApplicationKinds])),
        ("tcpq_recv", ApplicationKinds),
        ("tcpq_send", ApplicationKinds),
        ("tcpq_data_ready", [EventKind.FirstRead]),
    ];

    private readonly HashSet<string> _skipped = [];

    private readonly BpfObject _object;
    private readonly List<SafeBpfLinkHandle> _links = [];
    private BpfRingBuffer? _ring;
    private readonly int _cpus = BpfMap.PossibleCpus;
    private RecordsInTimeOrder? _records;
    private BpfMap? _lost;
    private BpfMap? _uncounted;
    private BpfMap? _missed;
    private IEventSink? _sink;

    public long Events => _records?.HandedOn ?? 0;

    /// <summary>Why accepts made by io_uring are not traced although accept's rows were asked
    /// for (this kernel's io_uring tracepoints), one line for the user; null when they are, or
    /// were not asked for.</summary>
    public string? UringAcceptsUnseen { get; private set; }

    private Tracer(BpfObject obj) => _object = obj;

    /// <summary>Loads, attaches and starts reading. When it returns, tracing is live.</summary>
    public static Tracer Start(TraceConfig config, IEventSink sink, bool verbose = false)
    {
        var tracer = new Tracer(EmbeddedObject.Open("tcpq.bpf.o", verbose));
        try
        {
            tracer.Configure(config);
            tracer.Load();
            tracer.Attach();
            tracer.OpenRing(sink);
            return tracer;
        }
        catch
        {
            tracer.Dispose();
            throw;
        }
    }

    /// <summary>Before load: the filters into .rodata, the ring buffer's size, and which programs load.</summary>
    private void Configure(TraceConfig config)
    {
        EmbeddedObject.Configure(_object, config, "bpf/tcpq.bpf.c");

        if (!TraceConfig.IsValidRingBufferKb(config.RingBufferKb))
            throw new TcpqException(ExitCode.Usage, $"bad ring buffer size {config.RingBufferKb} KiB: {TraceConfig.RingBufferRange}");
        uint ringBytes = TraceConfig.RingBytesPerCpu(config.RingBufferKb, _cpus, Environment.SystemPageSize);
        var rings = _object.FindMap("events");
        rings.SetMaxEntries((uint)_cpus);
        try { _ring = BpfRingBuffer.PerCpu(rings, _cpus, ringBytes); }
        catch (ErrnoException e) { throw e.As(ExitCode.Failure, "make the ring buffers"); }

        foreach (var (program, kinds) in OptionalPrograms)
        {
            if (config.Kinds is null || kinds.Any(config.Kinds.Contains)) continue;
            Skip(program);
        }

        // io_uring's accepts, on a kernel whose io_uring tracepoints the programs are written for
        // (counting mode, bpf/count.bpf.c, has no such hook: it counts accepts without them)
        if (!_skipped.Contains(UringAccepts.Programs[0]) && (UringAcceptsUnseen = UringAccepts.UnsupportedHere()) != null)
            foreach (var program in UringAccepts.Programs) Skip(program);
    }

    private void Skip(string program)
    {
        _object.FindProgram(program).SetAutoload(false);
        _skipped.Add(program);
    }

    private void Load()
    {
        LibbpfLog.Clear();
        try { _object.Load(); }
        catch (ErrnoException e) { throw KernelRefusals.Load(e.Errno); }
        _lost = _object.FindMap("lost");
        _uncounted = _object.FindMap("uncounted");
        _missed = _object.FindMap("missed");
    }

    private void Attach()
    {
        string? mountedTracefs = KernelFileSystems.EnsureTracefs();
        try
        {
            foreach (var name in TracingPrograms.Where(p => !_skipped.Contains(p)))
                _links.Add(Attached(name, () => _object.FindProgram(name).Attach()));
        }
        finally
        {
            KernelFileSystems.Unmount(mountedTracefs);
        }

        using var cgroup = KernelFileSystems.OpenCgroupV2Root();
        _links.Add(Attached("cgroup_skb/ingress to the cgroup v2 root", () => _object.FindProgram("tcpq_ingress").AttachCgroup(cgroup)));
    }

    private void OpenRing(IEventSink sink)
    {
        _sink = sink;
        _records = new RecordsInTimeOrder(_cpus);
        try { _ring!.Start(_records.Add); }
        catch (ErrnoException e) { throw e.As(ExitCode.Failure, "open the ring buffers"); }
    }

    /// <summary>Waits up to <paramref name="wait"/> (rounded up to whole milliseconds) for a
    /// wake-up, then reads every event waiting (the kernel wakes the reader only as a ring fills,
    /// not per event) and hands on, in time order, those stamped before the read began; the others
    /// at the next pump. Returns the events handed on.</summary>
    public int Pump(TimeSpan wait)
    {
        int timeoutMs = wait <= TimeSpan.Zero ? 0 : (int)Math.Min(int.MaxValue, Math.Ceiling(wait.TotalMilliseconds));
        ulong readFrom;
        try
        {
            _ring!.Poll(timeoutMs);
            readFrom = (ulong)WallClock.MonotonicNowNs();
            _ring.Consume();
        }
        catch (ErrnoException e) { throw e.As(ExitCode.Failure, "read the ring buffers"); }
        return _records!.HandOn(readFrom, _sink!);
    }

    /// <summary>The last read, as tracing ends: every event waiting, none kept for later.</summary>
    public int Drain()
    {
        try { _ring!.Consume(); }
        catch (ErrnoException e) { throw e.As(ExitCode.Failure, "read the ring buffers"); }
        return _records!.HandOnAll(_sink!);
    }

    /// <summary>The ring buffer's epoll: the loop waits here, and a burst wakes it.</summary>
    public bool Waits => true;

    public ulong Lost => LostEvents();

    /// <summary>A map of the loaded object, for readers of the kernel's aggregates.</summary>
    internal BpfMap Map(string name) => _object.FindMap(name);

    /// <summary>Events the kernel could not put into a full ring buffer, since start.</summary>
    public ulong LostEvents() => _lost?.SumPerCpu(0) ?? 0;

    /// <summary>Verdicts on a SYN or ACK made without this CPU's TcpExt counters (they could not be
    /// found in this kernel), since start: those rows are inferred and may differ from the kernel's
    /// TcpExtListenDrops.</summary>
    public ulong UncountedVerdicts() => _uncounted?.SumPerCpu(0) ?? 0;

    /// <summary>SYNs whose free the kernel side did not see (its program skipped as already running
    /// on that CPU, or a vCPU stall), since start: each may be a syn-drop or syn-cookie row missing.</summary>
    public ulong MissedVerdicts() => _missed?.SumPerCpu(0) ?? 0;

    /// <summary>A PREEMPT_RT kernel runs softirqs in preemptible threads: the per-CPU counter
    /// deltas that make drop rows exact are then not proven to hold.</summary>
    public static bool KernelIsRealtime => File.Exists("/sys/kernel/realtime") && File.ReadAllText("/sys/kernel/realtime").Trim() == "1";

    private static SafeBpfLinkHandle Attached(string what, Func<SafeBpfLinkHandle> attach)
    {
        try { return attach(); }
        catch (ErrnoException e) { throw KernelRefusals.Attach(what, e.Errno); }
    }

    public void Dispose()
    {
        _ring?.Dispose();
        for (int i = _links.Count - 1; i >= 0; i--) _links[i].Dispose();
        _links.Clear();
        _object.Dispose();
    }
}
