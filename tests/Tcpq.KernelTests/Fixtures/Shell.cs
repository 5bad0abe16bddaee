using System.Diagnostics;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>Runs a command to completion; a failure carries its stderr.</summary>
public static class Shell
{
    public static string Run(string file, params string[] args) => RunWithCode(file, args, out _, check: true);

    public static string RunWithCode(string file, string[] args, out int exitCode, bool check = false, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
        {
            p.Kill(true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish");
        }
        exitCode = p.ExitCode;
        if (check && exitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {exitCode}: {stderr.Result.Trim()}");
        return stdout.Result + (check ? "" : stderr.Result);
    }
}
