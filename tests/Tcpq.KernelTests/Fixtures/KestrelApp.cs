using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// The test ASP.NET Core server (tests/Tcpq.KestrelApp, built next to these tests) running in a
/// network namespace on 127.0.0.1:port, and a load of HTTP/1.1 clients from the same namespace.
/// </summary>
public sealed class KestrelApp : IDisposable
{
    private readonly Process _process;
    public NetNamespace Ns { get; }
    public int Port { get; }
    /// <summary>In a container: its TMPDIR, a tmpfs in its own mount namespace only.</summary>
    public string? ContainerTmp { get; private init; }

    /// <summary>The app's pid as the host sees it (in a container: not the pid it knows itself by).</summary>
    public int Pid { get; private set; }

    private KestrelApp(Process process, NetNamespace ns, int port)
    {
        _process = process;
        Ns = ns;
        Port = port;
        Pid = process.Id;
    }

    public static string Binary => Path.Combine(AppContext.BaseDirectory, "kestrel-app", "kestrel-app");

    /// <summary>Starts it and returns once it answers /ok. <paramref name="container"/>: as a container
    /// runs it, in a pid namespace of its own (it is pid 1 there, and names its diagnostics socket
    /// so) and a mount namespace where its TMPDIR (<see cref="ContainerTmp"/>) is a tmpfs of its
    /// own: the host sees that directory empty, only /proc/PID/root reaches the socket. (Not a
    /// tmpfs over /tmp: the test binaries may live under /tmp.)
    /// <paramref name="otel"/>: the app traces its requests with OpenTelemetry (KESTREL_APP_OTEL=1).
    /// <paramref name="binary"/>: another build of it (<see cref="KestrelAppAot"/>).</summary>
    public static KestrelApp Start(NetNamespace ns, int port, bool diagnostics = true, int? maxConnections = null, bool container = false, bool otel = false, string? binary = null)
    {
        // nsenter --net keeps the test's mount namespace (ip netns exec makes a new one): the app's
        // PID is the process's own, and its diagnostics socket is in this /tmp
        var psi = new ProcessStartInfo("nsenter") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add($"--net={ns.Path}");
        string? tmp = null;
        if (container)
        {
            tmp = Directory.CreateDirectory($"/var/tmp/tcpq-container-{Guid.NewGuid():N}").FullName;
            psi.Environment["TMPDIR"] = tmp;
            foreach (var a in new[] { "unshare", "--pid", "--fork", "--kill-child", "--mount", "--propagation", "private",
                                      "sh", "-c", $"mount -t tmpfs tcpq-test-tmp {tmp} && exec \"$0\" \"$@\"" })
                psi.ArgumentList.Add(a);
        }
        psi.ArgumentList.Add(binary ?? Binary);
        psi.ArgumentList.Add(port.ToString());
        if (maxConnections is int m) psi.ArgumentList.Add(m.ToString());
        psi.Environment["DOTNET_EnableDiagnostics"] = diagnostics ? "1" : "0";
        psi.Environment["DOTNET_gcServer"] = "0"; // one small heap: a test machine has few cores
        if (otel) psi.Environment["KESTREL_APP_OTEL"] = "1";
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var app = new KestrelApp(p, ns, port) { ContainerTmp = tmp };
        var sw = Stopwatch.StartNew();
        while (app.Get("/ok") is not string body || !body.Contains("ok\n"))
        {
            if (p.HasExited || sw.Elapsed > TimeSpan.FromSeconds(30)) { app.Dispose(); throw new InvalidOperationException("kestrel-app did not start"); }
            Thread.Sleep(100);
        }
        if (container) app.Pid = HostPidOf(port);
        return app;
    }

    /// <summary>One request on a connection of its own: the body as sent (maybe chunked), or null when it failed.</summary>
    public string? Get(string path, TimeSpan? timeout = null)
    {
        try
        {
            using var c = Ns.Client(AddressFamily.InterNetwork);
            c.ReceiveTimeout = c.SendTimeout = (int)(timeout ?? TimeSpan.FromSeconds(20)).TotalMilliseconds;
            c.Connect(new IPEndPoint(IPAddress.Loopback, Port));
            c.Send(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"));
            var response = new MemoryStream();
            var buffer = new byte[4096];
            for (int n; (n = c.Receive(buffer)) > 0;) response.Write(buffer, 0, n);
            var text = Encoding.ASCII.GetString(response.ToArray());
            int body = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            return text.StartsWith("HTTP/1.1 200", StringComparison.Ordinal) && body >= 0 ? text[(body + 4)..] : null;
        }
        catch (SocketException) { return null; }
    }

    /// <summary><paramref name="clients"/> clients at once, each sending <paramref name="perClient"/>
    /// requests one after another, each on a new connection; bounded by <paramref name="limit"/>.
    /// Returns how many requests succeeded.</summary>
    public int Load(string path, int clients, int perClient, TimeSpan limit)
    {
        int ok = 0;
        var until = DateTime.UtcNow + limit;
        var threads = Enumerable.Range(0, clients).Select(_ => new Thread(() =>
        {
            for (int i = 0; i < perClient && DateTime.UtcNow < until; i++)
                if (Get(path, until - DateTime.UtcNow + TimeSpan.FromSeconds(1)) != null) Interlocked.Increment(ref ok);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        return ok;
    }

    /// <summary>The kestrel-app serving <paramref name="port"/>, by its command line.</summary>
    private static int HostPidOf(int port)
    {
        foreach (var d in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(d), out int pid)) continue;
            try
            {
                var argv = File.ReadAllText(Path.Combine(d, "cmdline")).Split('\0');
                if (argv.Length >= 2 && argv[0] == Binary && argv[1] == port.ToString()) return pid;
            }
            catch (IOException) { } // gone
        }
        throw new InvalidOperationException($"no kestrel-app process for port {port}");
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(5000); } } catch (InvalidOperationException) { }
        _process.Dispose();
        if (ContainerTmp is not null) try { Directory.Delete(ContainerTmp, recursive: true); } catch (IOException) { }
    }
}
