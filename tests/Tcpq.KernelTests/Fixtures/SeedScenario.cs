using System.Net;
using System.Net.Sockets;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// The seed's scenario, run by the test process in a namespace: against a backlog-1 listener two
/// clients fill the accept queue, a third client's SYNs are dropped and retried; the application
/// accepts the first two after the second drop (~1 s), then the third once its next retry gets in
/// (~3 s after its first SYN).
/// </summary>
public sealed class SeedScenario : IDisposable
{
    private readonly List<Socket> _sockets = [];

    /// <summary>The three clients' ports, in the order they connected.</summary>
    public int[] ClientPorts { get; }
    public int ThirdPort => ClientPorts[2];

    private SeedScenario(int[] clientPorts) => ClientPorts = clientPorts;

    public static SeedScenario Run(NetNamespace ns, Socket listener, int port)
    {
        var to = new IPEndPoint(IPAddress.Loopback, port);
        // Linux 6.17+ retries a SYN after 1 s, 1 s, 1 s, 1 s (tcp_syn_linear_timeouts = 4); the
        // seed's kernel, and older ones, after 1 s then 2 s more: keep that classic backoff here
        // (the setting is the namespace's own) so the scenario's timing is the same everywhere.
        if (File.Exists("/proc/sys/net/ipv4/tcp_syn_linear_timeouts"))
            ns.Exec("sysctl", "-qw", "net.ipv4.tcp_syn_linear_timeouts=0");
        long drops0 = ns.Nstat().GetValueOrDefault("TcpExtListenDrops");
        var clients = new List<Socket>();
        for (int i = 0; i < 3; i++)
        {
            if (i > 0) Thread.Sleep(50);
            clients.Add(ns.StartConnect(to));
        }
        var scenario = new SeedScenario([.. clients.Select(c => c.LocalPort())]);
        scenario._sockets.AddRange(clients);

        // Accept once the kernel has dropped the third client's SYN twice (at ~0 s and its retry
        // at ~1 s), not after a fixed sleep: its next retry comes ~2 s later and finds room, a
        // margin a slow CI machine cannot eat (a fixed 2.5 s left 0.5 s before that retry).
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (ns.Nstat().GetValueOrDefault("TcpExtListenDrops") - drops0 < 2)
        {
            if (waited.Elapsed > TimeSpan.FromSeconds(10))
                throw new TimeoutException("the third client's SYN was not dropped twice within 10 s");
            Thread.Sleep(50);
        }
        Thread.Sleep(300); // a sampling tracer (sock_diag, every 100 ms) sees the full queue with that drop
        scenario._sockets.Add(listener.Accept());
        scenario._sockets.Add(listener.Accept());
        if (!listener.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead))
            throw new TimeoutException("the third client was never established");
        scenario._sockets.Add(listener.Accept());
        return scenario;
    }

    public void Dispose()
    {
        foreach (var s in _sockets) s.Dispose();
    }
}
