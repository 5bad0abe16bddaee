using System.Net;
using System.Net.Sockets;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// The seed's scenario, run by the test process in a namespace: against a backlog-1 listener two
/// clients fill the accept queue, a third client's SYNs are dropped and retried; the application
/// accepts the first two after 2.5 s, then the third once its retry gets in.
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
        var clients = new List<Socket>();
        for (int i = 0; i < 3; i++)
        {
            if (i > 0) Thread.Sleep(50);
            clients.Add(ns.StartConnect(to));
        }
        var scenario = new SeedScenario([.. clients.Select(c => c.LocalPort())]);
        scenario._sockets.AddRange(clients);

        Thread.Sleep(2500);
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
