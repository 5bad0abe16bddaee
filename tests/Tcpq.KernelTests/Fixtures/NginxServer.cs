using System.Diagnostics;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// A real nginx (Debian's nginx-light) in a namespace: one worker, its own config and temp
/// directory, <c>listen ADDRESS:PORT backlog=N</c> on loopback only, answering every request with
/// a 3-byte body; stopped (SIGTERM, then SIGKILL) and its directory removed on dispose.
/// </summary>
public sealed class NginxServer : IDisposable
{
    private readonly Process _process;
    private readonly string _dir;

    private NginxServer(Process process, string dir)
    {
        _process = process;
        _dir = dir;
    }

    /// <param name="listen">nginx's own syntax: <c>127.0.0.1:PORT</c> or <c>[::1]:PORT</c>, repeated for both.</param>
    public static NginxServer Start(NetNamespace ns, int port, int backlog, string[] listen)
    {
        var dir = Directory.CreateTempSubdirectory("tcpq-nginx-").FullName;
        Directory.CreateDirectory(Path.Combine(dir, "logs"));
        var listens = string.Join("\n", listen.Select(l => $"    listen {l} backlog={backlog};"));
        File.WriteAllText(Path.Combine(dir, "nginx.conf"), $$"""
            worker_processes 1;
            daemon off;
            master_process on;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/logs/error.log warn;
            events { worker_connections 4096; accept_mutex off; }
            http {
              access_log off;
              client_body_temp_path {{dir}}/body;
              proxy_temp_path {{dir}}/proxy;
              server {
            {{listens}}
                location / { return 200 "ok\n"; }
                location = /status { stub_status; }
              }
            }
            """);
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "netns", "exec", ns.Name, "nginx", "-p", dir, "-c", Path.Combine(dir, "nginx.conf") }) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var server = new NginxServer(p, dir);
        var waited = Stopwatch.StartNew();
        while (!ns.Exec("ss", "-Hltn", $"sport = :{port}").Contains(':'))
        {
            if (p.HasExited || waited.Elapsed > TimeSpan.FromSeconds(10))
            {
                string err = p.HasExited ? p.StandardError.ReadToEnd() : "";
                server.Dispose();
                throw new InvalidOperationException($"nginx did not listen on :{port}: {err}");
            }
            Thread.Sleep(50);
        }
        return server;
    }

    /// <summary>nginx's own count of the connections it accepted (stub_status "accepts"), asked
    /// over IPv4 loopback: the asking connection is counted in it.</summary>
    public long Accepts(NetNamespace ns, int port)
    {
        // Active connections: 1 \n server accepts handled requests \n 12 12 12 \n ...
        var lines = ns.Exec("curl", "-sS", "--max-time", "5", $"http://127.0.0.1:{port}/status").Split('\n');
        int i = Array.FindIndex(lines, l => l.Contains("accepts", StringComparison.Ordinal));
        if (i < 0 || i + 1 >= lines.Length) throw new InvalidOperationException($"nginx's stub_status said: {string.Join(" / ", lines)}");
        return long.Parse(lines[i + 1].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                Posix.Kill(_process.Id, Posix.SIGTERM);
                if (!_process.WaitForExit(TimeSpan.FromSeconds(5))) _process.Kill(true);
            }
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
