using System.Runtime.InteropServices;
using Tcpq.Interop;

namespace Tcpq.Bpf;

/// <summary>
/// Counting mode's kernel side (bpf/count.bpf.c), loaded alone: four programs that count each
/// listener's connections into a slot of its own, with no syscall hooked and nothing kept per
/// connection, and a reader run on demand. Disposing it detaches and unloads all of it.
/// </summary>
public sealed class CountingPrograms : IDisposable
{
    /// <summary>TCPQ_SLOTS in bpf/tcpq.h: slot 0 is "other".</summary>
    public const int Slots = 1024;

    private static readonly string[] TracingPrograms =
        ["tcpq_count_kfree_skb", "tcpq_count_set_state", "tcpq_count_synack_retrans"];

    private static readonly string[] AcceptPrograms = ["tcpq_count_exit_accept4", "tcpq_count_exit_accept"];

    private readonly BpfObject _object;
    private readonly List<SafeBpfLinkHandle> _links = [];
    private readonly Lock _sampling = new();
    private readonly List<SafeBpfLinkHandle> _acceptLinks = [];
    private Thread? _sampler;
    private readonly CancellationTokenSource _stopSampling = new();
    private string? _mountedTracefs;
    private long _samplingSinceNs, _sampledNs, _windowSinceNs, _ticks;
    private readonly LatencySampling _sample;
    private bool _disposed;

    private CountingPrograms(BpfObject obj, LatencySampling sample) => (_object, _sample) = (obj, sample);

    /// <summary>The records of slow, dropped or retried connections (serve --spans-slower-than);
    /// null when not asked for, and then neither their ring nor their code is in the kernel.</summary>
    public SpanRecords? Spans { get; private set; }

    /// <summary>Loads, hands the kernel its free slots, attaches. When it returns, counting is live.
    /// The accept hooks, for the latency histograms, are attached as <paramref name="sample"/> says
    /// (bpf/count_accept.h): the histograms are of the connections accepted meanwhile. With
    /// <paramref name="spansSlowerThan"/>, the kernel also sends a record of each connection slower
    /// than that, dropped or retried (bpf/count_spans.h: <see cref="Spans"/>).</summary>
    public static CountingPrograms Start(IReadOnlyList<ushort> ports, LatencySampling sample, bool verbose = false, TimeSpan? spansSlowerThan = null)
    {
        var programs = new CountingPrograms(EmbeddedObject.Open("count.bpf.o", verbose), sample);
        try
        {
            EmbeddedObject.Configure(programs._object, new TraceConfig(ports, null, TraceConfig.MinRingBufferKb), "bpf/count.bpf.c");
            programs.ConfigureSpans(spansSlowerThan);
            LibbpfLog.Clear();
            try { programs._object.Load(); }
            catch (ErrnoException e) { throw KernelRefusals.Load(e.Errno); }
            if (spansSlowerThan is not null)
            {
                try { programs.Spans = new SpanRecords(programs._object, programs.SettleVerdicts); }
                catch (ErrnoException e) { throw e.As(ExitCode.Failure, "open the span records' ring"); }
            }
            var free = programs.Map("free_slots");
            for (uint slot = 1; slot < Slots; slot++) free.Push(slot);
            programs.Attach();
            programs.StartSampling();
            return programs;
        }
        catch
        {
            programs.Dispose();
            throw;
        }
    }

    /// <summary>The threshold into .rodata.spans (0, the default, leaves the span code out at
    /// verification); without it the ring and its loss counter are not created.</summary>
    private void ConfigureSpans(TimeSpan? slowerThan)
    {
        ulong ns = slowerThan is { } t ? Math.Max((ulong)(t.Ticks * 100), 1) : 0;
        _object.FindMap(".rodata.spans").SetInitialValue(BitConverter.GetBytes(ns));
        if (ns != 0) return;
        _object.FindMap("span_records").SetAutoCreate(false);
        _object.FindMap("span_records_lost").SetAutoCreate(false);
    }

    private void Attach()
    {
        // kept mounted while tcpq runs, if tcpq mounted it: the accept hooks attach again each window
        _mountedTracefs = KernelFileSystems.EnsureTracefs();
        foreach (var name in TracingPrograms)
            _links.Add(Attached(name, () => _object.FindProgram(name).Attach()));
        using var cgroup = KernelFileSystems.OpenCgroupV2Root();
        _links.Add(Attached("cgroup_skb/ingress to the cgroup v2 root", () => _object.FindProgram("tcpq_count_ingress").AttachCgroup(cgroup)));
    }

    private static SafeBpfLinkHandle Attached(string what, Func<SafeBpfLinkHandle> attach)
    {
        try { return attach(); }
        catch (ErrnoException e) { throw KernelRefusals.Attach(what, e.Errno); }
    }

    internal BpfMap Map(string name) => _object.FindMap(name);

    private void StartSampling()
    {
        _samplingSinceNs = Events.WallClock.MonotonicNowNs();
        if (_sample.IsOff) return;
        _sampler = new Thread(SampleWindows) { IsBackground = true, Name = "tcpq accept-hook windows" };
        _sampler.Start();
    }

    /// <summary>The windows' clock, a thread of its own: a thread-pool timer fired late when the
    /// load saturates the CPUs, stretching 100 ms windows to ~240 ms (bench/nginx/run's sample
    /// ratio 0.24 for 100ms/1s), and with them what the hooks cost. Ticks are due on a fixed
    /// schedule from the start, so a late one does not shift the rest.</summary>
    private void SampleWindows()
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        double ticksPerWindow = _sample.Window.TotalSeconds * System.Diagnostics.Stopwatch.Frequency;
        for (long n = 1; Sample(); n++)
        {
            long due = start + (long)(n * ticksPerWindow);
            long wait = due - System.Diagnostics.Stopwatch.GetTimestamp();
            if (wait > 0 && _stopSampling.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds((double)wait / System.Diagnostics.Stopwatch.Frequency)))
                return;
            if (_stopSampling.IsCancellationRequested) return;
        }
    }

    /// <summary>Each window's start attaches the accept hooks, its end detaches them. False once
    /// sampling has ended (disposed, or the kernel refused the hooks).</summary>
    private bool Sample()
    {
        lock (_sampling)
        {
            if (_disposed) return false;
            long windows = _sample.Period.Ticks / _sample.Window.Ticks;
            long tick = _ticks++;
            if (tick % windows == 0 && _acceptLinks.Count == 0)
            {
                try
                {
                    foreach (var name in AcceptPrograms) _acceptLinks.Add(_object.FindProgram(name).Attach());
                    _windowSinceNs = Events.WallClock.MonotonicNowNs();
                }
                catch (ErrnoException e)
                {
                    DetachAccepts();
                    Console.Error.WriteLine($"tcpq: the accept hooks cannot be attached ({e.Message}): no queue-wait histograms");
                    return false;
                }
            }
            else if (windows > 1 && tick % windows == 1)
            {
                DetachAccepts();
            }
            return windows > 1; // always: attached once for good
        }
    }

    private void DetachAccepts()
    {
        if (_acceptLinks.Count == 0) return;
        // the window ends as the detach begins: closing a syscall tracepoint's link takes the hook
        // out at once but then waits for RCU grace periods (20-50 ms here under load)
        _sampledNs += Events.WallClock.MonotonicNowNs() - _windowSinceNs;
        foreach (var link in _acceptLinks) link.Dispose();
        _acceptLinks.Clear();
    }

    /// <summary>The share of the time since counting began that the accept hooks were attached:
    /// the share of accepts the latency histograms hold, when accepts come evenly.</summary>
    public double LatencySampleRatio
    {
        get
        {
            lock (_sampling)
            {
                if (_sample == LatencySampling.Always && _acceptLinks.Count > 0) return 1; // attached for good
                long now = Events.WallClock.MonotonicNowNs();
                long sampled = _sampledNs + (_acceptLinks.Count > 0 ? now - _windowSinceNs : 0);
                return now > _samplingSinceNs ? Math.Clamp((double)sampled / (now - _samplingSinceNs), 0, 1) : 0;
            }
        }
    }

    private static readonly byte[] SettleOnly = new byte[8], ReadQueues = [1, 0, 0, 0, 0, 0, 0, 0];
    private readonly int _cpus = BpfMap.PossibleCpus;

    /// <summary>Runs the reader on each CPU: the verdict on the last packet a CPU saw at a listener
    /// is settled at its next packet (bpf/count.h), or here once that packet is done (a few ms),
    /// so the counters are exact once traffic pauses. Call before reading the counters.</summary>
    /// <exception cref="ErrnoException">the kernel refused a run.</exception>
    internal void SettleVerdicts()
    {
        var reader = _object.FindProgram("tcpq_count_read_live");
        for (int cpu = 0; cpu < _cpus; cpu++)
        {
            try { reader.TestRun(SettleOnly, cpu); }
            catch (ErrnoException e) when (e.Errno == Errno.ENXIO) { } // an offline CPU sees no packet
        }
    }

    /// <summary>Runs the live reader: slot_lives then holds each open slot's listener as it is now.</summary>
    /// <exception cref="ErrnoException">the kernel refused the run.</exception>
    internal void ReadLive() => _object.FindProgram("tcpq_count_read_live").TestRun(ReadQueues);

    public void Dispose()
    {
        lock (_sampling)
        {
            _disposed = true;
            DetachAccepts();
        }
        _stopSampling.Cancel();
        if (_sampler is { } sampler && sampler != Thread.CurrentThread) sampler.Join();
        _stopSampling.Dispose();
        Spans?.Dispose();
        for (int i = _links.Count - 1; i >= 0; i--) _links[i].Dispose();
        _links.Clear();
        KernelFileSystems.Unmount(_mountedTracefs);
        _mountedTracefs = null;
        _object.Dispose();
    }

    /// <summary>struct tcpq_slot_info.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SlotInfo
    {
        public ulong Sk, Cookie, OpenedNs, ClosedNs, CgroupId;
        public Events.Address16 Address;
        public uint NetNs, QBase, QAtClose;
        public ushort Port;
        public byte Family, State;
    }

    /// <summary>enum tcpq_slot_state.</summary>
    internal const byte SlotFree = 0, SlotOpen = 1, SlotClosed = 2;

    /// <summary>struct tcpq_slot_live.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SlotLive
    {
        public ulong Cookie;
        public uint Ok, State, Q, Q0, QMax, Pad;
    }

    /// <summary>struct tcpq_slot_meta.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SlotMeta
    {
        public uint High, Pad;
        public ulong Overflowed;
    }

    /// <summary>struct tcpq_kernel_drop.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct KernelDrop
    {
        public uint Slot, Reason;
    }
}
