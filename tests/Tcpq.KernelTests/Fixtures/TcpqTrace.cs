using System.Diagnostics;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// A real <c>tcpq trace</c> process (the built binary), started in the host's namespaces unless
/// told otherwise, writing to a file. <see cref="Start"/> returns once tcpq says tracing is live.
/// </summary>
public sealed class TcpqTrace : IDisposable
{
    public static string Binary => TcpqBinary.Path;

    private readonly Process _process;
    private readonly List<string> _stderr = [];
    private readonly TaskCompletionSource _live = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public string OutputPath { get; }
    public int Pid => _process.Id;
    private Task<string>? _stdout;

    /// <summary>What tcpq wrote to standard output, once it has exited.</summary>
    public string Stdout => ExitCode is null ? throw new InvalidOperationException("tcpq is still running") : _stdout!.GetAwaiter().GetResult();
    public int? ExitCode { get; private set; }

    private TcpqTrace(Process process, string outputPath)
    {
        _process = process;
        OutputPath = outputPath;
    }

    public IReadOnlyList<string> Stderr { get { lock (_stderr) return [.. _stderr]; } }

    /// <summary>Starts <c>tcpq trace -o FILE ARGS</c>; <paramref name="prefix"/> runs it under
    /// another command (e.g. <c>ip netns exec NAME</c>); <paramref name="environment"/> is added to
    /// its environment.</summary>
    public static TcpqTrace Start(string[] args, string[]? prefix = null, string? outputPath = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        Requirements.Check();
        outputPath ??= System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"tcpq-test-{Guid.NewGuid():N}.out");
        // the test host is a .NET process that accepts: tests not about --dotnet trace the kernel only
        if (!args.Contains("--dotnet")) args = [.. args, "--dotnet", "off"];
        string[] command = [.. Posix.WithDefaultSigint, .. prefix ?? [], Binary, "trace", "-o", outputPath, .. args];
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) psi.Environment[name] = value;
        var p = Process.Start(psi)!;
        var t = new TcpqTrace(p, outputPath);
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data == null) { t._live.TrySetResult(); return; }
            lock (t._stderr) t._stderr.Add(e.Data);
            if (e.Data.StartsWith("tcpq: tracing", StringComparison.Ordinal)) t._live.TrySetResult();
        };
        p.BeginErrorReadLine();
        t._stdout = p.StandardOutput.ReadToEndAsync();
        if (!t._live.Task.Wait(TimeSpan.FromSeconds(30)) || p.HasExited)
        {
            try { p.Kill(); } catch (InvalidOperationException) { }
            throw new InvalidOperationException($"tcpq trace did not start: {string.Join(" | ", t.Stderr)}");
        }
        return t;
    }

    /// <summary>Sends SIGINT (as Ctrl-C would) and waits for a clean exit.</summary>
    public int Stop(int signal = Posix.SIGINT)
    {
        if (ExitCode is int done) return done;
        Posix.Kill(_process.Id, signal);
        if (!_process.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            _process.Kill();
            throw new TimeoutException("tcpq trace did not stop within 20 s of the signal");
        }
        _process.WaitForExit();
        ExitCode = _process.ExitCode;
        return _process.ExitCode;
    }

    public string ReadOutput() => File.Exists(OutputPath) ? File.ReadAllText(OutputPath) : "";

    /// <summary>The JSON rows written so far (the tracer flushes at least every 100 ms).</summary>
    public List<TraceRow> Rows() =>
        ReadOutput().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(TraceRow.Parse).ToList();

    /// <summary>Waits until <paramref name="done"/> holds for the rows so far, or the timeout passes.</summary>
    public List<TraceRow> WaitFor(Func<List<TraceRow>, bool> done, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var rows = Rows();
            if (done(rows) || sw.Elapsed > timeout) return rows;
            Thread.Sleep(50);
        }
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) Stop(); } catch (Exception) { }
        _process.Dispose();
        try { File.Delete(OutputPath); } catch (IOException) { }
    }
}
