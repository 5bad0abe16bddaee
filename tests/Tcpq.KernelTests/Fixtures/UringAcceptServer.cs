using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// Servers/uring_server.c in one of its accept modes (single, multishot, direct: issue #22) in a
/// namespace. It accepts through io_uring only, once armed (<see cref="Arm"/>), and records per
/// connection what it knows of the accept. Its clients are the test's own sockets in the namespace
/// (<see cref="Connect"/>), each sending its port, which the server reads through io_uring.
/// </summary>
public sealed class UringAcceptServer : IDisposable
{
    /// <summary>One connection as the server saw it: the client's port, the pid and comm it ran as,
    /// CLOCK_MONOTONIC ns (tcpq's ts) before it submitted the accept and after it reaped its
    /// completion, how it was accepted, the completion's res (an fd, 0 or a slot), and whether
    /// that completion overflowed the CQ ring.</summary>
    public sealed record Record(int Port, int Pid, string Comm, long ArmedNs, long AcceptedNs, string How, int Res, bool Overflowed);

    private readonly Process _process;
    private readonly string _record;
    private readonly NetNamespace _ns;
    private readonly int _port;
    private readonly List<Socket> _clients = [];

    public int Pid => _process.Id;

    private UringAcceptServer(Process process, string record, NetNamespace ns, int port)
    {
        _process = process;
        _record = record;
        _ns = ns;
        _port = port;
    }

    /// <summary>uring_server PORT RECORD N MODE, once it listens (not yet accepting).</summary>
    public static UringAcceptServer Start(NetNamespace ns, int port, string mode, int connections)
    {
        string record = Path.Combine(Path.GetTempPath(), $"tcpq-uring-accepts-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(record, "");
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", ns.Name, UringServerBuild.Path, port.ToString(), record, connections.ToString(), mode }) psi.ArgumentList.Add(a);
        var server = new UringAcceptServer(Process.Start(psi)!, record, ns, port);
        server.Expect("listening");
        return server;
    }

    /// <summary>Lets the server arm its accepts; returns once the first accept that has to wait
    /// for a connection is in the kernel.</summary>
    public void Arm()
    {
        _process.StandardInput.Write("go\n");
        _process.StandardInput.Flush();
        Expect("armed");
    }

    private void Expect(string line)
    {
        var read = _process.StandardOutput.ReadLineAsync();
        if (!read.Wait(TimeSpan.FromSeconds(10)) || read.Result != line)
        {
            try { _process.Kill(true); } catch (InvalidOperationException) { }
            throw new InvalidOperationException($"uring_server did not say '{line}': {_process.StandardError.ReadToEnd()}");
        }
    }

    /// <summary>A client connected (its handshake complete) that has sent its port; it stays
    /// open until the server is disposed.</summary>
    public int Connect()
    {
        var c = _ns.Client(AddressFamily.InterNetwork);
        c.Connect(new IPEndPoint(IPAddress.Loopback, _port));
        int port = ((IPEndPoint)c.LocalEndPoint!).Port;
        c.Send(Encoding.ASCII.GetBytes(port.ToString()));
        _clients.Add(c);
        return port;
    }

    /// <summary>Waits for the server to serve all its connections and exit; its records.</summary>
    public List<Record> Finish()
    {
        if (!_process.WaitForExit(TimeSpan.FromSeconds(60))) throw new TimeoutException("uring_server did not finish");
        Assert.True(_process.ExitCode == 0, $"uring_server exited {_process.ExitCode}: {_process.StandardError.ReadToEnd()}");
        var opts = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        return [.. File.ReadAllLines(_record).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<Record>(l, opts)!)];
    }

    public void Dispose()
    {
        foreach (var c in _clients) c.Dispose();
        try { if (!_process.HasExited) _process.Kill(true); } catch (InvalidOperationException) { }
        _process.Dispose();
        try { File.Delete(_record); } catch (IOException) { }
    }
}
