namespace Tcpq.Interop;

/// <summary>A program of a <see cref="BpfObject"/>: chosen for loading or not, then attached.
/// Each attachment is a link handle; disposing it detaches.</summary>
internal sealed class BpfProgram(string name, SafeBpfProgramHandle handle)
{
    public string Name { get; } = name;
    internal SafeBpfProgramHandle Handle { get; } = handle;

    public void SetAutoload(bool autoload) =>
        ErrnoException.ThrowIfNegative(LibBpf.ProgramSetAutoload(Handle, autoload), $"bpf_program__set_autoload {Name}");

    /// <summary>Runs the loaded program once, now, on <paramref name="context"/>
    /// (BPF_PROG_TEST_RUN: for program types the kernel runs on request, such as <c>syscall</c>);
    /// on <paramref name="cpu"/> when given (BPF_F_TEST_RUN_ON_CPU, raw_tp only: by an interrupt
    /// there, or here when it is this thread's CPU). Returns what the program returned.</summary>
    /// <exception cref="ErrnoException">the kernel refused the run (ENXIO: that CPU is offline).</exception>
    public unsafe uint TestRun(ReadOnlySpan<byte> context, int? cpu = null)
    {
        bool added = false;
        Handle.DangerousAddRef(ref added); // the fd is the object's: keep it open for the run
        try
        {
            fixed (byte* ctx = context)
            {
                var opts = new LibBpf.TestRunOpts { Sz = (nuint)sizeof(LibBpf.TestRunOpts), CtxIn = ctx, CtxSizeIn = (uint)context.Length };
                if (cpu is { } on) (opts.Flags, opts.Cpu) = (LibBpf.TestRunOnCpu, (uint)on);
                ErrnoException.ThrowIfNegative(LibBpf.ProgTestRunOpts(LibBpf.ProgramFd(Handle), &opts), $"bpf_prog_test_run_opts {Name}");
                return opts.Retval;
            }
        }
        finally
        {
            if (added) Handle.DangerousRelease();
        }
    }

    /// <summary>Attaches where the program's section says (a tracepoint, a BTF tracepoint...).</summary>
    /// <exception cref="ErrnoException">the kernel refused, or has no such attach point.</exception>
    public SafeBpfLinkHandle Attach() => Link(LibBpf.ProgramAttach(Handle), "bpf_program__attach");

    /// <summary>Attaches a cgroup program to the cgroup open at <paramref name="cgroup"/>.</summary>
    /// <exception cref="ErrnoException">the kernel refused.</exception>
    public SafeBpfLinkHandle AttachCgroup(SafeFdHandle cgroup)
    {
        bool added = false;
        cgroup.DangerousAddRef(ref added);
        try
        {
            return Link(LibBpf.ProgramAttachCgroup(Handle, (int)cgroup.DangerousGetHandle()), "bpf_program__attach_cgroup");
        }
        finally
        {
            if (added) cgroup.DangerousRelease();
        }
    }

    private SafeBpfLinkHandle Link(nint link, string call) =>
        LibBpf.IsError(link) ? throw new ErrnoException($"{call} {Name}", Errno.Last) : new SafeBpfLinkHandle(link, Handle);
}
