using Tcpq.Interop;

namespace Tcpq.Bpf;

/// <summary>Reads types from BTF: the running kernel's (/sys/kernel/btf/vmlinux) for the names of
/// drop reasons, or a compiled object's for the layout test.</summary>
internal sealed class KernelBtf : IDisposable
{
    public const string VmlinuxPath = "/sys/kernel/btf/vmlinux";
    private readonly Btf _btf;

    private KernelBtf(Btf btf) => _btf = btf;

    public static KernelBtf Open(string path)
    {
        if (!File.Exists(path))
            throw new TcpqException(ExitCode.NoBtf, $"no BTF at {path}: this kernel was built without CONFIG_DEBUG_INFO_BTF, which tcpq needs");
        NativeLibraryResolver.Install();
        try { return new KernelBtf(Btf.Parse(path)); }
        catch (ErrnoException e) { throw e.As(ExitCode.NoBtf, $"cannot read BTF from {path}"); }
    }

    /// <summary>The members of an enum as value → name (the low 32 bits of a 64-bit enum's value),
    /// or null when there is no such enum.</summary>
    public Dictionary<uint, string>? EnumValues(string enumName)
    {
        if (_btf.EnumMembers(enumName) is not { } members) return null;
        var result = new Dictionary<uint, string>(members.Count);
        foreach (var (name, value) in members) result[(uint)value] = name;
        return result;
    }

    /// <summary>A struct's size and its members' byte offsets, or null when there is no such struct.</summary>
    public (int Size, Dictionary<string, int> Offsets)? StructLayout(string structName)
    {
        if (_btf.StructMembers(structName) is not { } layout) return null;
        var offsets = new Dictionary<string, int>();
        foreach (var (name, bits) in layout.Members) offsets[name] = (int)(bits / 8);
        return (layout.Size, offsets);
    }

    /// <summary>How many arguments a tracepoint passes to a BTF program (tp_btf/NAME), or null when
    /// the kernel has no such tracepoint. Its btf_trace_NAME typedef takes a context pointer first.</summary>
    public int? TracepointArguments(string tracepoint) => _btf.FunctionPointerParameters("btf_trace_" + tracepoint) - 1;

    public void Dispose() => _btf.Dispose();
}
