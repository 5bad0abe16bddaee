namespace Tcpq.Bpf;

/// <summary>
/// The programs that see accepts made by io_uring (bpf/uring.h), and whether this kernel's io_uring
/// tracepoints are the ones they are written for. They run on every io_uring completion of the
/// machine, so they load only when accept's or the application's rows are asked for; counting mode
/// (serve, top: another object) counts accepts without them.
/// </summary>
internal static class UringAccepts
{
    public static readonly string[] Programs = ["tcpq_uring_complete", "tcpq_uring_overflow"];

    /// <summary>Each tracepoint and the arguments the programs read (include/trace/events/io_uring.h
    /// as of 6.x: io_uring_complete passes the CQE itself since it learned CQE32; before, 7 scalars).</summary>
    internal static readonly (string Tracepoint, int Arguments)[] Tracepoints =
    [
        ("io_uring_complete", 3),     // ctx, req, cqe
        ("io_uring_cqe_overflow", 5), // ctx, user_data, res, cflags, ocqe
    ];

    /// <summary>Why the programs cannot load on a kernel whose tracepoints take these arguments
    /// (null: no such tracepoint), one line for the user; null when they can.</summary>
    public static string? Unsupported(Func<string, int?> arguments)
    {
        foreach (var (tracepoint, expected) in Tracepoints)
        {
            if (arguments(tracepoint) is not int actual)
                return $"accepts made by io_uring are not traced: this kernel has no {tracepoint} tracepoint (built without io_uring?)";
            if (actual != expected)
                return $"accepts made by io_uring are not traced: this kernel's {tracepoint} tracepoint passes {actual} arguments, tcpq reads {expected} (Linux 6.x's)";
        }
        return null;
    }

    /// <summary><see cref="Unsupported(Func{string, int?})"/> for the running kernel, from its BTF.</summary>
    public static string? UnsupportedHere()
    {
        using var btf = KernelBtf.Open(KernelBtf.VmlinuxPath);
        return Unsupported(btf.TracepointArguments);
    }
}
