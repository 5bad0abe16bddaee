using System.Diagnostics;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>A command running in a detached tmux terminal of a given size, on a tmux server of its
/// own (never the user's): its screen read with <c>capture-pane -p</c>, keys typed with
/// <c>send-keys</c>, its exit code kept in a file. Disposing kills the server and all in it.</summary>
public sealed class TmuxSession : IDisposable
{
    private readonly string _server;
    private readonly string _exitFile;
    private const string Target = "top";

    private TmuxSession(string server, string exitFile)
    {
        _server = server;
        _exitFile = exitFile;
    }

    public static TmuxSession Start(string[] command, int width, int height)
    {
        Requirements.Check();
        var server = $"tcpqt-{Environment.ProcessId}-{Guid.NewGuid():N}"[..32];
        var exitFile = Path.Combine(Path.GetTempPath(), server + ".exit");
        string line = string.Join(' ', command.Select(Quote)) + $"; echo $? > {Quote(exitFile)}";
        Shell.Run("tmux", "-L", server, "new-session", "-d", "-s", Target, "-x", width.ToString(), "-y", height.ToString(), "sh", "-c", line);
        return new TmuxSession(server, exitFile);
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    /// <summary>What the terminal shows now, one line per row.</summary>
    public string Screen() => Shell.RunWithCode("tmux", ["-L", _server, "capture-pane", "-p", "-t", Target], out _);

    /// <summary>Types these characters (literally, no key names).</summary>
    public void Type(string keys) => Shell.Run("tmux", "-L", _server, "send-keys", "-t", Target, "-l", keys);

    /// <summary>The first screen that satisfies <paramref name="ready"/>; the last one seen in the failure otherwise.</summary>
    public string WaitForScreen(Func<string, bool> ready, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        string screen = "";
        while (sw.Elapsed < timeout)
        {
            screen = Screen();
            if (ready(screen)) return screen;
            Thread.Sleep(100);
        }
        throw new TimeoutException($"the screen never showed {what} within {timeout.TotalSeconds} s; it shows:\n{screen}");
    }

    /// <summary>The command's exit code, or null while it runs past the timeout.</summary>
    public int? WaitForExit(TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (File.Exists(_exitFile) && File.ReadAllText(_exitFile).Trim() is { Length: > 0 } code) return int.Parse(code);
            Thread.Sleep(50);
        }
        return null;
    }

    public void Dispose()
    {
        Shell.RunWithCode("tmux", ["-L", _server, "kill-server"], out _);
        File.Delete(_exitFile);
    }
}
