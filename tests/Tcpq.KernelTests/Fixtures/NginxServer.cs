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
