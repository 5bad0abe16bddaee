using System.Runtime.InteropServices;
using Tcpq.Interop;

namespace Tcpq.Bpf;

/// <summary>Reads types from BTF: the running kernel's (/sys/kernel/btf/vmlinux) for the names of
/// drop reasons, or a compiled object's for the layout test.</summary>
internal sealed unsafe class KernelBtf : IDisposable
{
    public const string VmlinuxPath = "/sys/kernel/btf/vmlinux";
    private readonly SafeBtfHandle _btf;

    private KernelBtf(SafeBtfHandle btf) => _btf = btf;

    public static KernelBtf Open(string path)
    {
        if (!File.Exists(path))
            throw new TcpqException(ExitCode.NoBtf, $"no BTF at {path}: this kernel was built without CONFIG_DEBUG_INFO_BTF, which tcpq needs");
        NativeLibraryResolver.Install();
        nint h = LibBpf.BtfParse(path, 0);
        if (LibBpf.IsError(h))
            throw new TcpqException(ExitCode.NoBtf, $"cannot read BTF from {path}: {Errno.Text(Errno.Last)}");
        return new KernelBtf(new SafeBtfHandle(h));
    }

    private string Name(uint offset) => Marshal.PtrToStringUTF8((nint)LibBpf.BtfNameByOffset(_btf, offset)) ?? "";

    /// <summary>The members of an enum as value → name, or null when there is no such enum.</summary>
    public Dictionary<uint, string>? EnumValues(string enumName)
    {
        int id = LibBpf.BtfFindByNameKind(_btf, enumName, LibBpf.BtfKindEnum);
        bool is64 = false;
        if (id <= 0)
        {
            id = LibBpf.BtfFindByNameKind(_btf, enumName, LibBpf.BtfKindEnum64);
            is64 = true;
        }
        if (id <= 0) return null;
        var t = LibBpf.BtfTypeById(_btf, (uint)id);
        var result = new Dictionary<uint, string>(t->Vlen);
        if (!is64)
        {
            var members = (LibBpf.BtfEnum*)(t + 1);
            for (int i = 0; i < t->Vlen; i++) result[(uint)members[i].Value] = Name(members[i].NameOff);
        }
        else
        {
            var members = (LibBpf.BtfEnum64*)(t + 1);
            for (int i = 0; i < t->Vlen; i++) result[members[i].ValueLo32] = Name(members[i].NameOff);
        }
        return result;
    }

    /// <summary>A struct's size and its members' byte offsets, or null when there is no such struct.</summary>
    public (int Size, Dictionary<string, int> Offsets)? StructLayout(string structName)
    {
        int id = LibBpf.BtfFindByNameKind(_btf, structName, LibBpf.BtfKindStruct);
        if (id <= 0) return null;
        var t = LibBpf.BtfTypeById(_btf, (uint)id);
        var members = (LibBpf.BtfMember*)(t + 1);
        var offsets = new Dictionary<string, int>();
        for (int i = 0; i < t->Vlen; i++)
        {
            uint bits = t->KindFlag ? members[i].Offset & 0xffffff : members[i].Offset;
            offsets[Name(members[i].NameOff)] = (int)(bits / 8);
        }
        return ((int)t->SizeOrType, offsets);
    }

    public void Dispose() => _btf.Dispose();
}
