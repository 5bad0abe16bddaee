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
    public int Pid => _process.Id;

    private KestrelApp(Process process, NetNamespace ns, int port)
    {
        _process = process;
        Ns = ns;
        Port = port;
    }

    public static string Binary => Path.Combine(AppContext.BaseDirectory, "kestrel-app", "kestrel-app");

    /// <summary>Starts it and returns once it answers /ok.</summary>
    public static KestrelApp Start(NetNamespace ns, int port, bool diagnostics = true, int? maxConnections = null)
    {
        // nsenter --net keeps the test's mount namespace (ip netns exec makes a new one): the app's
        // PID is the process's own, and its diagnostics socket is in this /tmp
        var psi = new ProcessStartInfo("nsenter") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { $"--net={ns.Path}", Binary, port.ToString() }) psi.ArgumentList.Add(a);
        if (maxConnections is int m) psi.ArgumentList.Add(m.ToString());
        psi.Environment["DOTNET_EnableDiagnostics"] = diagnostics ? "1" : "0";
        psi.Environment["DOTNET_gcServer"] = "0"; // one small heap: a test machine has few cores
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var app = new KestrelApp(p, ns, port);
        var sw = Stopwatch.StartNew();
        while (app.Get("/ok") is not string body || !body.Contains("ok\n"))
        {
            if (p.HasExited || sw.Elapsed > TimeSpan.FromSeconds(30)) { app.Dispose(); throw new InvalidOperationException("kestrel-app did not start"); }
            Thread.Sleep(100);
        }
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

    public void Dispose()
    {
        try { if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(5000); } } catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
