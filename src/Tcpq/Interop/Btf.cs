using System.Runtime.InteropServices;

namespace Tcpq.Interop;

/// <summary>A parsed BTF blob (<c>struct btf *</c>): its enums and structs read out as managed
/// values, so the type records it points into never leave this folder.</summary>
internal sealed unsafe class Btf : IDisposable
{
    private readonly SafeBtfHandle _handle;

    private Btf(SafeBtfHandle handle) => _handle = handle;

    /// <exception cref="ErrnoException">the file cannot be read or holds no valid BTF.</exception>
    public static Btf Parse(string path)
    {
        nint btf = LibBpf.BtfParse(path, 0);
        if (LibBpf.IsError(btf)) throw new ErrnoException($"btf__parse {path}", Errno.Last);
        return new Btf(new SafeBtfHandle(btf));
    }

    /// <summary>The members of an enum (32- or 64-bit) in declaration order, or null when there is no such enum.</summary>
    public List<(string Name, ulong Value)>? EnumMembers(string name)
    {
        var t = Find(name, LibBpf.BtfKindEnum);
        if (t == null) t = Find(name, LibBpf.BtfKindEnum64);
        if (t == null) return null;
        var members = new List<(string, ulong)>(t->Vlen);
        if (t->Kind == LibBpf.BtfKindEnum)
        {
            var e = (LibBpf.BtfEnum*)(t + 1);
            for (int i = 0; i < t->Vlen; i++) members.Add((Name(e[i].NameOff), (uint)e[i].Value));
        }
        else
        {
            var e = (LibBpf.BtfEnum64*)(t + 1);
            for (int i = 0; i < t->Vlen; i++) members.Add((Name(e[i].NameOff), e[i].ValueLo32 | (ulong)e[i].ValueHi32 << 32));
        }
        return members;
    }

    /// <summary>A struct's size in bytes and its members' offsets in bits, or null when there is no such struct.</summary>
    public (int Size, List<(string Name, uint BitOffset)> Members)? StructMembers(string name)
    {
        var t = Find(name, LibBpf.BtfKindStruct);
        if (t == null) return null;
        var m = (LibBpf.BtfMember*)(t + 1);
        var members = new List<(string, uint)>(t->Vlen);
        // with kind_flag set, the top 8 bits of the offset are a bitfield's size
        for (int i = 0; i < t->Vlen; i++) members.Add((Name(m[i].NameOff), t->KindFlag ? m[i].Offset & 0xffffff : m[i].Offset));
        return ((int)t->SizeOrType, members);
    }

    /// <summary>How many parameters the function a typedef points to takes (<c>typedef void
    /// (*name)(...)</c>), or null when there is no such typedef of a function pointer.</summary>
    public int? FunctionPointerParameters(string typedefName)
    {
        var t = Find(typedefName, LibBpf.BtfKindTypedef);
        if (t == null) return null;
        var ptr = LibBpf.BtfTypeById(_handle, t->SizeOrType);
        if (ptr == null || ptr->Kind != LibBpf.BtfKindPtr) return null;
        var proto = LibBpf.BtfTypeById(_handle, ptr->SizeOrType);
        if (proto == null || proto->Kind != LibBpf.BtfKindFuncProto) return null;
        return proto->Vlen;
    }

    private LibBpf.BtfType* Find(string name, uint kind)
    {
        int id = LibBpf.BtfFindByNameKind(_handle, name, kind);
        return id > 0 ? LibBpf.BtfTypeById(_handle, (uint)id) : null;
    }

    private string Name(uint offset) => Marshal.PtrToStringUTF8((nint)LibBpf.BtfNameByOffset(_handle, offset)) ?? "";

    public void Dispose() => _handle.Dispose();
}
