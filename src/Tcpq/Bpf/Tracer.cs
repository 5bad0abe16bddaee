using System.Runtime.InteropServices;
using Tcpq.Events;
using Tcpq.Interop;

namespace Tcpq.Bpf;

/// <summary>
/// Owns everything tcpq puts into the kernel: the loaded object, one link per program, the ring
/// buffer reader. Disposing it detaches and unloads all of it (also on SIGINT/SIGTERM).
/// </summary>
public sealed unsafe class Tracer : IDisposable
{
    private static readonly string[] TracingPrograms =
    [
        "tcpq_consume_skb", "tcpq_kfree_skb", "tcpq_set_state", "tcpq_synack_retrans",
        "tcpq_exit_accept4", "tcpq_exit_accept",
    ];

    /// <summary>Programs that only make rows of one kind: not loaded when --events leaves it out.
    /// The accept hooks are syscall tracepoints, which put every syscall of every process on the
    /// machine through the tracepoint exit path while attached (~35 ns a syscall, measured with dd bs=1).</summary>
    private static readonly (string Program, EventKind Kind)[] OptionalPrograms =
    [
        ("tcpq_synack_retrans", EventKind.SynAckRetrans),
        ("tcpq_exit_accept4", EventKind.Accept),
        ("tcpq_exit_accept", EventKind.Accept),
    ];

    private readonly HashSet<string> _skipped = [];

    private readonly SafeBpfObjectHandle _object;
    private readonly List<SafeBpfLinkHandle> _links = [];
    private SafeRingBufferHandle? _ring;
    private GCHandle _self;
    private IEventSink? _sink;
    private Exception? _callbackError;
    private int _lostMapFd = -1;
    private long _events;

    public long Events => Interlocked.Read(ref _events);

    private Tracer(SafeBpfObjectHandle obj) => _object = obj;

    /// <summary>Loads, attaches and starts reading. When it returns, tracing is live.</summary>
    public static Tracer Start(TraceConfig config, IEventSink sink, bool verbose = false)
    {
        NativeLibraryResolver.Install();
        Privileges.RequireTracing();
        if (!File.Exists(KernelBtf.VmlinuxPath))
            throw new TcpqException(ExitCode.NoBtf, $"no BTF at {KernelBtf.VmlinuxPath}: tcpq needs a kernel built with CONFIG_DEBUG_INFO_BTF (5.8 or later)");
        LibbpfLog.Install(verbose);

        var tracer = new Tracer(OpenEmbeddedObject());
        try
        {
            tracer.Load(config);
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

    private static SafeBpfObjectHandle OpenEmbeddedObject()
    {
        using var stream = typeof(Tracer).Assembly.GetManifestResourceStream("tcpq.bpf.o")
            ?? throw new TcpqException(ExitCode.Failure, "the BPF object is not embedded in this build: rebuild with ./tcpq");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        fixed (byte* p = bytes)
        {
            // libbpf copies the buffer: it need not outlive this call
            nint obj = LibBpf.ObjectOpenMem(p, (nuint)bytes.Length, 0);
            if (LibBpf.IsError(obj))
                throw new TcpqException(ExitCode.Failure, $"open BPF object: {Errno.Text(Errno.Last)}");
            return new SafeBpfObjectHandle(obj);
        }
    }

    private void Load(TraceConfig config)
    {
        nint rodata = FindMap(".rodata");
        var bytes = config.ToRodata();
        nuint size;
        LibBpf.MapInitialValue(rodata, &size);
        if ((int)size != bytes.Length)
            throw new TcpqException(ExitCode.Failure, $"the BPF object's .rodata is {size} bytes, expected {bytes.Length}: bpf/tcpq.bpf.c and TraceConfig differ");
        fixed (byte* p = bytes)
            if (LibBpf.MapSetInitialValue(rodata, p, size) != 0)
                throw new TcpqException(ExitCode.Failure, "cannot set the BPF object's configuration");

        int ringBytes = config.RingBufferKb * 1024;
        if (config.RingBufferKb < 4 || (ringBytes & (ringBytes - 1)) != 0)
            throw new TcpqException(ExitCode.Usage, $"bad ring buffer size {config.RingBufferKb} KiB: a power of two, at least 4");
        LibBpf.MapSetMaxEntries(FindMap("events"), (uint)ringBytes);

        foreach (var (program, kind) in OptionalPrograms)
        {
            if (config.Kinds is null || config.Kinds.Contains(kind)) continue;
            LibBpf.ProgramSetAutoload(FindProgram(program), false);
            _skipped.Add(program);
        }

        LibbpfLog.Clear();
        int err = LibBpf.ObjectLoad(_object);
        if (err != 0) throw LoadError("load BPF programs", -err);
        _lostMapFd = LibBpf.MapFd(FindMap("lost"));
    }

    private void Attach()
    {
        string? mountedTracefs = KernelFileSystems.EnsureTracefs();
        try
        {
            foreach (var name in TracingPrograms)
            {
                if (_skipped.Contains(name)) continue;
                nint link = LibBpf.ProgramAttach(FindProgram(name));
                if (LibBpf.IsError(link))
                    throw AttachError(name, Errno.Last);
                _links.Add(new SafeBpfLinkHandle(link, _object));
            }
        }
        finally
        {
            KernelFileSystems.Unmount(mountedTracefs);
        }

        using var cgroup = KernelFileSystems.OpenCgroupV2Root();
        bool added = false;
        cgroup.DangerousAddRef(ref added);
        try
        {
            nint link = LibBpf.ProgramAttachCgroup(FindProgram("tcpq_ingress"), (int)cgroup.DangerousGetHandle());
            if (LibBpf.IsError(link))
                throw AttachError("cgroup_skb/ingress to the cgroup v2 root", Errno.Last);
            _links.Add(new SafeBpfLinkHandle(link, _object));
        }
        finally
        {
            if (added) cgroup.DangerousRelease();
        }
    }

    private void OpenRing(IEventSink sink)
    {
        _sink = sink;
        _self = GCHandle.Alloc(this);
        int fd = LibBpf.MapFd(FindMap("events"));
        nint rb = LibBpf.RingBufferNew(fd, &OnSample, GCHandle.ToIntPtr(_self), 0);
        if (LibBpf.IsError(rb))
            throw new TcpqException(ExitCode.Failure, $"open the ring buffer: {Errno.Text(Errno.Last)}");
        _ring = new SafeRingBufferHandle(rb, _object);
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for a wake-up, then reads every event
    /// waiting (the kernel wakes the reader only for large batches). Returns the events read.</summary>
    public int Poll(int timeoutMs)
    {
        int n = LibBpf.RingBufferPoll(_ring!, timeoutMs);
        if (n < 0 && n != -Errno.EINTR) ThrowRingError(n);
        int m = LibBpf.RingBufferConsume(_ring!);
        if (m < 0 && m != -Errno.EINTR) ThrowRingError(m);
        return Math.Max(n, 0) + Math.Max(m, 0);
    }

    private void ThrowRingError(int err)
    {
        if (_callbackError != null) throw _callbackError;
        throw new TcpqException(ExitCode.Failure, $"read the ring buffer: {Errno.Text(-err)}");
    }

    /// <summary>Events the kernel could not put into a full ring buffer, since start.</summary>
    public ulong LostEvents()
    {
        int cpus = LibBpf.NumPossibleCpus();
        if (cpus <= 0 || _lostMapFd < 0) return 0;
        var values = stackalloc ulong[cpus];
        uint key = 0;
        if (LibBpf.MapLookupElem(_lostMapFd, &key, values) != 0) return 0;
        ulong sum = 0;
        for (int i = 0; i < cpus; i++) sum += values[i];
        return sum;
    }

    [UnmanagedCallersOnly]
    private static int OnSample(nint ctx, void* data, nuint size)
    {
        var tracer = (Tracer)GCHandle.FromIntPtr(ctx).Target!;
        if (size < TcpqEvent.Size) return 0;
        try
        {
            tracer._events++;
            tracer._sink!.OnEvent(in *(TcpqEvent*)data);
            return 0;
        }
        catch (Exception e)
        {
            tracer._callbackError = e;
            return -1; // stops this poll; Poll() rethrows
        }
    }

    private nint FindMap(string name)
    {
        nint m = LibBpf.ObjectFindMap(_object, name);
        return m != 0 ? m : throw new TcpqException(ExitCode.Failure, $"the BPF object has no map '{name}'");
    }

    private nint FindProgram(string name)
    {
        nint p = LibBpf.ObjectFindProgram(_object, name);
        return p != 0 ? p : throw new TcpqException(ExitCode.Failure, $"the BPF object has no program '{name}'");
    }

    private static TcpqException LoadError(string what, int errno)
    {
        var log = LibbpfLog.Tail();
        if (errno == Errno.EPERM || errno == Errno.EACCES && !log.Contains("invalid", StringComparison.Ordinal))
            return new TcpqException(ExitCode.NoPermission, $"{what}: permission denied (need root or CAP_BPF and CAP_PERFMON)");
        if (LibbpfLog.Contains("failed to find kernel BTF type ID") || LibbpfLog.Contains("failed to find BTF for extern"))
            return new TcpqException(ExitCode.MissingTracepoint, $"{what}: a BTF tracepoint tcpq needs is missing in this kernel ({FirstLine(log)})");
        return new TcpqException(ExitCode.UnsupportedKernel, $"{what}: the kernel refused them ({Errno.Text(errno)}); this kernel may be too old (tcpq needs Linux 6.2+). Run with --verbose for the verifier log");
    }

    private static TcpqException AttachError(string what, int errno) => errno switch
    {
        Errno.EPERM or Errno.EACCES => new TcpqException(ExitCode.NoPermission, $"attach {what}: permission denied (need root or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN)"),
        Errno.ENOENT => new TcpqException(ExitCode.MissingTracepoint, $"attach {what}: no such tracepoint in this kernel"),
        _ => new TcpqException(ExitCode.UnsupportedKernel, $"attach {what}: {Errno.Text(errno)}"),
    };

    private static string FirstLine(string log) => log.Split('\n').LastOrDefault(l => l.Length > 0) ?? "";

    public void Dispose()
    {
        _ring?.Dispose();
        for (int i = _links.Count - 1; i >= 0; i--) _links[i].Dispose();
        _links.Clear();
        _object.Dispose();
        if (_self.IsAllocated) _self.Free();
    }
}
