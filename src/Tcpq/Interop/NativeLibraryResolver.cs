using System.Reflection;
using System.Runtime.InteropServices;

namespace Tcpq.Interop;

/// <summary>Finds libbpf once: libbpf.so.1, then libbpf.so.0; fails with one line naming the package.</summary>
internal static class NativeLibraryResolver
{
    private static int _installed;

    internal static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 1) return;
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraryResolver).Assembly, Resolve);
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name == LibBpf.Library)
        {
            foreach (var candidate in new[] { "libbpf.so.1", "libbpf.so.0", "libbpf.so" })
                if (NativeLibrary.TryLoad(candidate, out var h)) return h;
            throw new TcpqException(ExitCode.MissingLibrary,
                "libbpf not found (libbpf.so.1): install it with 'apt-get install libbpf1'");
        }
        if (name == "libc" && NativeLibrary.TryLoad("libc.so.6", out var libc)) return libc;
        return 0;
    }
}
