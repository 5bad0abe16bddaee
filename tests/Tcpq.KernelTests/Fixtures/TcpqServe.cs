using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>A real <c>tcpq serve</c> (the built binary) on a free loopback port; <see cref="Start"/>
/// returns once it says where it serves, which is after every program is attached.</summary>
public sealed class TcpqServe : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _stderr = [];
    private readonly TaskCompletionSource<string> _serving = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>host:port of the metrics endpoint.</summary>
    public string Address { get; private set; } = "";
    public int? ExitCode { get; private set; }

    private TcpqServe(Process process) => _process = process;

    public IReadOnlyList<string> Stderr { get { lock (_stderr) return [.. _stderr]; } }

    public static TcpqServe Start(params string[] args) => Start(null, args);

    /// <summary>Started inside <paramref name="ns"/> (its endpoint there too) when one is given.</summary>
    public static TcpqServe Start(NetNamespace? ns, params string[] args) => Start(ns, [], TcpqBinary.Path, new Dictionary<string, string>(), args);

    /// <summary>Started through <paramref name="prefix"/> (e.g. setpriv as another user with fewer
    /// capabilities), from a copy of tcpq that user can read.</summary>
    public static TcpqServe StartAs(string[] prefix, params string[] args) => Start(null, prefix, UnprivilegedCopy.Binary, new Dictionary<string, string>(), args);

    /// <summary>Starts it with <paramref name="environment"/> added to its environment.</summary>
    public static TcpqServe StartWith(IReadOnlyDictionary<string, string> environment, params string[] args) => Start(null, [], TcpqBinary.Path, environment, args);

    private static TcpqServe Start(NetNamespace? ns, string[] prefix, string binary, IReadOnlyDictionary<string, string> environment, string[] args)
    {
        Requirements.Check();
        // the test host is a .NET process that listens: tests not about --dotnet serve the kernel's side only
        if (!args.Contains("--dotnet")) args = [.. args, "--dotnet", "off"];
        if (!args.Contains("--listen")) args = ["--listen", "127.0.0.1:0", .. args];
        string[] inside = ns is null ? [] : ["ip", "netns", "exec", ns.Name];
        string[] command = [.. Posix.WithDefaultSigint, .. inside, .. prefix, binary, "serve", .. args];
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        // another user (a prefix) may not be able to enter the test's directory (a clone in a
        // mktemp -d directory is mode 0700): start it where anyone can
        if (prefix.Length > 0) psi.WorkingDirectory = "/";
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        var p = Process.Start(psi)!;
        var s = new TcpqServe(p);
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data == null) { s._serving.TrySetResult(""); return; }
            lock (s._stderr) s._stderr.Add(e.Data);
            var m = Regex.Match(e.Data, @"^tcpq: serving metrics .* at https?://([^/]+)/metrics");
            if (m.Success) s._serving.TrySetResult(m.Groups[1].Value);
        };
        p.BeginErrorReadLine();
        p.StandardOutput.ReadToEndAsync();
        if (!s._serving.Task.Wait(TimeSpan.FromSeconds(30)) || s._serving.Task.Result.Length == 0)
        {
            try { p.Kill(); } catch (InvalidOperationException) { }
            throw new InvalidOperationException($"tcpq serve did not start: {string.Join(" | ", s.Stderr)}");
        }
        s.Address = s._serving.Task.Result;
        return s;
    }

    public string Metrics() => Http.GetStringAsync($"http://{Address}/metrics").GetAwaiter().GetResult();

    /// <summary>The value of the one sample whose line starts with <paramref name="prefix"/> (name and
    /// labels as far as given), summed over every sample that matches; 0 when none.</summary>
    public static double Sum(string metrics, string name, params string[] labels) =>
        metrics.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal))
            .Where(l => labels.All(x => l.Contains(x, StringComparison.Ordinal)))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The process's peak resident memory so far (VmHWM), in bytes.</summary>
    public long PeakRss()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        throw new InvalidOperationException("no VmHWM");
    }

    public int Pid => _process.Id;

    public int Stop(int signal = Posix.SIGTERM)
    {
        if (ExitCode is int done) return done;
        Posix.Kill(_process.Id, signal);
        if (!_process.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            _process.Kill();
            throw new TimeoutException("tcpq serve did not stop within 20 s of the signal");
        }
        _process.WaitForExit();
        ExitCode = _process.ExitCode;
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) Stop(); } catch (Exception) { }
        _process.Dispose();
    }
}
