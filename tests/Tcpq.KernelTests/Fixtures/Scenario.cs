using System.Net;
using System.Net.Sockets;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>Small steps that scenarios share.</summary>
public static class Scenario
{
    public static int LocalPort(this Socket s) => ((IPEndPoint)s.LocalEndPoint!).Port;

    /// <summary>Waits until the listener has a connection to accept, then accepts it.</summary>
    public static Socket AcceptWithin(this Socket listener, TimeSpan timeout)
    {
        if (!listener.Poll(timeout, SelectMode.SelectRead))
            throw new TimeoutException("no connection became ready to accept");
        return listener.Accept();
    }

    /// <summary>Waits until a client's non-blocking connect has completed.</summary>
    public static void WaitConnected(this Socket client, TimeSpan timeout)
    {
        if (!client.Poll(timeout, SelectMode.SelectWrite))
            throw new TimeoutException("the client did not connect");
    }

    public static long Delta(Dictionary<string, long> before, Dictionary<string, long> after, string counter) =>
        after.GetValueOrDefault(counter) - before.GetValueOrDefault(counter);

    public static List<TraceRow> In(this List<TraceRow> rows, NetNamespace ns) => rows.Where(r => r.NetNs == ns.Inode).ToList();

    /// <summary>The namespace's counters once the listener has had no segment to count for 300 ms
    /// (at most 10 s).</summary>
    public static Dictionary<string, long> Quiet(this NetNamespace ns)
    {
        string[] watched = ["TcpExtListenDrops", "TcpPassiveOpens", "TcpExtSyncookiesSent", "TcpExtSyncookiesRecv", "TcpExtListenOverflows"];
        var waited = System.Diagnostics.Stopwatch.StartNew();
        var last = ns.Nstat();
        while (true)
        {
            Thread.Sleep(300);
            var now = ns.Nstat();
            if (watched.All(k => now.GetValueOrDefault(k) == last.GetValueOrDefault(k)) || waited.Elapsed > TimeSpan.FromSeconds(10)) return now;
            last = now;
        }
    }
}
