using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Tcpq.Interop;

namespace Tcpq.Bpf;

/// <summary>libbpf's messages go through one callback: kept (the last lines explain a failed
/// load or attach in the error message) and printed only with --verbose.</summary>
internal static unsafe class LibbpfLog
{
    private const int Keep = 40;
    private static readonly Queue<string> Lines = new();
    private static volatile bool _verbose;

    internal static void Install(bool verbose)
    {
        _verbose = verbose;
        LibBpf.SetPrint(&Print);
    }

    internal static string Tail(int lines = 12)
    {
        lock (Lines) return string.Join("\n", Lines.Skip(Math.Max(0, Lines.Count - lines)));
    }

    internal static bool Contains(string text)
    {
        lock (Lines) return Lines.Any(l => l.Contains(text, StringComparison.Ordinal));
    }

    internal static void Clear()
    {
        lock (Lines) Lines.Clear();
    }

    [UnmanagedCallersOnly]
    private static int Print(int level, byte* format, nint args)
    {
        try
        {
            const int size = 4096;
            byte* buf = stackalloc byte[size];
            int n = Libc.VsnPrintf(buf, size, format, args);
            if (n < 0) return 0;
            var text = Marshal.PtrToStringUTF8((nint)buf, Math.Min(n, size - 1)).TrimEnd('\n');
            lock (Lines)
            {
                foreach (var line in text.Split('\n'))
                {
                    Lines.Enqueue(line);
                    if (Lines.Count > Keep) Lines.Dequeue();
                }
            }
            if (_verbose) Console.Error.WriteLine(text);
        }
        catch
        {
            // never let an exception cross into libbpf
        }
        return 0;
    }
}
