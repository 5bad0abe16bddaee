using Tcpq.Interop;

namespace Tcpq.Bpf;

/// <summary>libbpf's messages go through one callback: kept (the last lines explain a failed
/// load or attach in the error message) and printed only with --verbose.</summary>
internal static class LibbpfLog
{
    private const int Keep = 40;
    private static readonly Queue<string> Lines = new();
    private static volatile bool _verbose;

    internal static void Install(bool verbose)
    {
        _verbose = verbose;
        LibbpfPrint.Install(Add);
    }

    internal static string Tail(int lines = 12)
    {
        lock (Lines) return string.Join("\n", Lines.Skip(Math.Max(0, Lines.Count - lines)));
    }

    internal static bool Contains(string text)
    {
        lock (Lines) return Lines.Any(l => l.Contains(text, StringComparison.Ordinal));
    }

    /// <summary>The last line libbpf printed that says something: after a failed load, the one
    /// that says why.</summary>
    internal static string LastLine()
    {
        lock (Lines) return LastNonBlank(Lines);
    }

    internal static string LastNonBlank(IEnumerable<string> lines) => lines.LastOrDefault(l => !string.IsNullOrWhiteSpace(l)) ?? "";

    internal static void Clear()
    {
        lock (Lines) Lines.Clear();
    }

    private static void Add(string message)
    {
        var text = message.TrimEnd('\n');
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
}
