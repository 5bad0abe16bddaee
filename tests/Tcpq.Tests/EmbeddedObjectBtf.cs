using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Tcpq.Bpf;

namespace Tcpq.Tests;

/// <summary>The BTF of a BPF object embedded in tcpq (tcpq.bpf.o, count.bpf.o), copied to a
/// temporary file for libbpf, and the check the layout tests make with it: a C# mirror laid out as
/// its C struct, member by member.</summary>
internal sealed class EmbeddedObjectBtf : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"tcpq-layout-{Guid.NewGuid():N}.bpf.o");

    public KernelBtf Btf { get; }

    public EmbeddedObjectBtf(string resource)
    {
        using (var stream = typeof(Tracer).Assembly.GetManifestResourceStream(resource))
        using (var file = File.Create(_path))
        {
            Assert.NotNull(stream);
            stream.CopyTo(file);
        }
        Btf = KernelBtf.Open(_path);
    }

    /// <summary><typeparamref name="T"/> has <paramref name="cStruct"/>'s size, and each C member
    /// (key) is at the offset of its C# field (value); no member or field is left unmapped.</summary>
    public void AssertSameLayout<T>(string cStruct, Dictionary<string, string> names) where T : struct
    {
        var layout = Btf.StructLayout(cStruct);
        Assert.True(layout.HasValue, $"struct {cStruct} is not in the object's BTF");
        var (size, offsets) = layout.Value;
        Assert.Equal(size, Unsafe.SizeOf<T>());
        Assert.Equal(names.Keys.Order(), offsets.Keys.Order());
        var csFields = typeof(T).GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).Select(f => f.Name);
        Assert.Equal(names.Values.Order(), csFields.Order());
        foreach (var (c, cs) in names)
            Assert.True(offsets[c] == (int)Marshal.OffsetOf<T>(cs), $"{cStruct}.{c} is at {offsets[c]}, {typeof(T).Name}.{cs} at {Marshal.OffsetOf<T>(cs)}");
    }

    public void Dispose()
    {
        Btf.Dispose();
        File.Delete(_path);
    }
}
