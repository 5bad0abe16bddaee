using System.Diagnostics;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>tcpq writing into a pipe that this test reads, as <c>tcpq … | head</c> would: read a
/// few lines, then <see cref="CloseReader"/> the read end as head does when it has enough.</summary>
public sealed class PipedTcpq : IDisposable
{
    private readonly Process _process;

    private PipedTcpq(Process process) => _process = process;

    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    public static PipedTcpq Start(string[] args, string[]? prefix = null)
    {
        Requirements.Check();
        string[] command = [.. Posix.WithDefaultSigint, .. prefix ?? [], TcpqTrace.Binary, .. args];
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.ErrorDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        return new PipedTcpq(p);
    }

    private Task<string?>? _pending;

    /// <summary>The next line of output, or null when none comes within the timeout (a read
    /// that timed out goes on: the next call waits for the same line).</summary>
    public string? ReadLine(TimeSpan timeout)
    {
        var line = _pending ?? _process.StandardOutput.ReadLineAsync();
        if (!line.Wait(timeout))
        {
            _pending = line;
            return null;
        }
        _pending = null;
        return line.Result;
    }

    /// <summary>Closes the read end of the pipe: tcpq's next write fails with EPIPE.</summary>
    public void CloseReader() => _process.StandardOutput.Close();

    /// <summary>The exit code, or null when it is still running after the timeout.</summary>
    public int? WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout) ? _process.ExitCode : null;

    public void Dispose()
    {
        try { if (!_process.HasExited) _process.Kill(); } catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
