using Tcpq.Interop;

namespace Tcpq.Bpf;

/// <summary>The BPF objects built into tcpq (bpf/*.bpf.c, embedded by the build): what every
/// loader checks first (privileges, the kernel's BTF, libbpf's log), then the object opened.</summary>
internal static class EmbeddedObject
{
    /// <summary>Opens <paramref name="resource"/> (<c>tcpq.bpf.o</c>, <c>count.bpf.o</c>), not yet loaded.</summary>
    public static BpfObject Open(string resource, bool verbose)
    {
        NativeLibraryResolver.Install();
        Privileges.RequireTracing();
        if (!File.Exists(KernelBtf.VmlinuxPath))
            throw new TcpqException(ExitCode.NoBtf, $"no BTF at {KernelBtf.VmlinuxPath}: tcpq needs a kernel built with CONFIG_DEBUG_INFO_BTF (5.8 or later)");
        LibbpfLog.Install(verbose);

        using var stream = typeof(EmbeddedObject).Assembly.GetManifestResourceStream(resource)
            ?? throw new TcpqException(ExitCode.Failure, $"the BPF object {resource} is not embedded in this build: rebuild with ./tcpq");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        try { return BpfObject.Open(bytes); }
        catch (ErrnoException e) { throw e.As(ExitCode.Failure, $"open BPF object {resource}"); }
    }

    /// <summary>Writes the filters into the object's .rodata (struct tcpq_config) before load.</summary>
    public static void Configure(BpfObject obj, TraceConfig config, string source)
    {
        var rodata = obj.FindMap(".rodata");
        var bytes = config.ToRodata();
        if (rodata.InitialValueSize != bytes.Length)
            throw new TcpqException(ExitCode.Failure, $"the BPF object's .rodata is {rodata.InitialValueSize} bytes, expected {bytes.Length}: {source} and TraceConfig differ");
        try { rodata.SetInitialValue(bytes); }
        catch (ErrnoException) { throw new TcpqException(ExitCode.Failure, "cannot set the BPF object's configuration"); }
    }
}
