using Tcpq.Bpf;
using Tcpq.Interop;

namespace Tcpq.Tests;

/// <summary>Which kernels the io_uring accept programs (bpf/uring.h) load on: the one check made from
/// the kernel's BTF before load, here on the argument counts of kernels tcpq may meet.</summary>
public class UringAcceptsTests
{
    /// <summary>include/trace/events/io_uring.h as of 6.x (the kernel tests run on 6.18).</summary>
    private static readonly Dictionary<string, int> Linux6 = new()
    {
        ["io_uring_complete"] = 3, ["io_uring_cqe_overflow"] = 5,
    };

    private static Func<string, int?> Kernel(Dictionary<string, int> tracepoints) =>
        name => tracepoints.TryGetValue(name, out int n) ? n : null;

    [Fact]
    public void A_kernel_with_the_6x_io_uring_tracepoints_is_supported() =>
        Assert.Null(UringAccepts.Unsupported(Kernel(Linux6)));

    [Fact]
    public void A_kernel_built_without_io_uring_is_said_in_one_line()
    {
        string? why = UringAccepts.Unsupported(Kernel([]));
        Assert.Equal("accepts made by io_uring are not traced: this kernel has no io_uring_complete tracepoint (built without io_uring?)", why);
    }

    /// <summary>Before io_uring_complete passed the CQE itself it passed its fields one by one
    /// (ctx, req, user_data, res, cflags, extra1, extra2): read as (ctx, req, cqe), user_data
    /// would be taken for a pointer.</summary>
    [Fact]
    public void A_kernel_whose_io_uring_complete_passes_the_fields_one_by_one_is_not_misread()
    {
        var older = new Dictionary<string, int>(Linux6) { ["io_uring_complete"] = 7 };
        Assert.Equal("accepts made by io_uring are not traced: this kernel's io_uring_complete tracepoint passes 7 arguments, tcpq reads 3 (Linux 6.x's)",
            UringAccepts.Unsupported(Kernel(older)));
    }

    [Fact]
    public void Every_io_uring_program_is_in_the_compiled_object()
    {
        NativeLibraryResolver.Install();
        using var resource = typeof(Tracer).Assembly.GetManifestResourceStream("tcpq.bpf.o");
        Assert.NotNull(resource);
        var elf = new byte[resource.Length];
        resource.ReadExactly(elf);
        using var obj = BpfObject.Open(elf);
        Assert.Subset(obj.ProgramNames().ToHashSet(), UringAccepts.Programs.ToHashSet());
    }
}
