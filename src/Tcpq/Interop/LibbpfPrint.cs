using System.Runtime.InteropServices;

namespace Tcpq.Interop;

/// <summary>libbpf's print hook: each message comes as a format and a va_list, formatted here in C
/// (vsnprintf) and handed on as a string. The hook is an <c>[UnmanagedCallersOnly]</c> function,
/// so no delegate has to be kept alive for native code.</summary>
internal static unsafe class LibbpfPrint
{
    private const int MaxMessage = 4096;
    private static volatile Action<string>? _handler;

    /// <summary>Sends every libbpf message to <paramref name="handler"/> from now on, instead of stderr.</summary>
    internal static void Install(Action<string> handler)
    {
        _handler = handler;
        LibBpf.SetPrint(&Print);
    }

    [UnmanagedCallersOnly]
    private static int Print(int level, byte* format, nint args)
    {
        try
        {
            byte* buf = stackalloc byte[MaxMessage];
            int n = Libc.VsnPrintf(buf, MaxMessage, format, args);
            if (n >= 0) _handler?.Invoke(Marshal.PtrToStringUTF8((nint)buf, Math.Min(n, MaxMessage - 1)));
        }
        catch
        {
            // never let an exception cross into libbpf
        }
        return 0;
    }
}
