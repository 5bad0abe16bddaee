using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// A private network namespace with loopback up, deleted on dispose. Sockets made by
/// <see cref="Run{T}"/> live in it (created on a thread that entered it with setns), so the test
/// process itself listens, connects and accepts there, and its counters (nstat) and ports are its own.
/// </summary>
public sealed class NetNamespace : IDisposable
{
    private static int _count;

    public string Name { get; }
    public string Path => $"/run/netns/{Name}";
    /// <summary>The namespace's inode number, as tcpq's netns field reports it.</summary>
    public uint Inode { get; }

    private NetNamespace(string name)
    {
        Name = name;
        Shell.Run("ip", "-n", name, "link", "set", "lo", "up");
        var link = Shell.Run("ip", "netns", "exec", name, "readlink", "/proc/self/ns/net").Trim(); // net:[4026532...]
        Inode = uint.Parse(link[(link.IndexOf('[') + 1)..link.IndexOf(']')]);
    }

    public static NetNamespace Create()
    {
        Requirements.Check();
        var name = $"tcpqt-{Environment.ProcessId}-{Interlocked.Increment(ref _count)}";
        Shell.Run("ip", "netns", "add", name);
        return new NetNamespace(name);
    }

    /// <summary>Runs <paramref name="f"/> on a thread inside the namespace.</summary>
    public T Run<T>(Func<T> f)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var ns = File.OpenHandle(Path);
                if (Posix.SetNs((int)ns.DangerousGetHandle(), Posix.CLONE_NEWNET) != 0)
                    throw new InvalidOperationException($"setns {Path}: errno {Marshal.GetLastPInvokeError()}");
                result = f();
            }
            catch (Exception e) { error = e; }
        });
        thread.Start();
        thread.Join();
        if (error != null) throw new InvalidOperationException($"in namespace {Name}: {error.Message}", error);
        return result;
    }

    public string Exec(params string[] command) => Shell.Run("ip", ["netns", "exec", Name, .. command]);

    /// <summary>The namespace's SNMP/netstat counters, absolute (nstat -a), without touching nstat's history.</summary>
    public Dictionary<string, long> Nstat()
    {
        var counters = new Dictionary<string, long>();
        foreach (var line in Exec("nstat", "-asz").Split('\n'))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && long.TryParse(parts[1], out long v)) counters[parts[0]] = v;
        }
        return counters;
    }

    public Socket Listen(IPAddress address, int port, int backlog, bool dualStack = false) => Run(() =>
    {
        var s = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (address.AddressFamily == AddressFamily.InterNetworkV6) s.DualMode = dualStack;
        s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        s.Bind(new IPEndPoint(address, port));
        s.Listen(backlog);
        return s;
    });

    /// <summary>A client socket in the namespace, bound to an ephemeral port, not yet connected.</summary>
    public Socket Client(AddressFamily family) => Run(() =>
    {
        var c = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
        c.Bind(new IPEndPoint(family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, 0));
        return c;
    });

    /// <summary>Starts a connection and returns at once (the handshake goes on in the kernel).</summary>
    public Socket StartConnect(IPEndPoint to)
    {
        var c = Client(to.AddressFamily);
        c.Blocking = false;
        try { c.Connect(to); }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress) { }
        return c;
    }

    /// <summary>Drops outgoing TCP packets of <paramref name="sourcePort"/> whose flags are exactly
    /// <paramref name="flags"/> (nft syntax: "ack", "syn|ack"), until the result is disposed.</summary>
    public IDisposable DropOutgoing(int sourcePort, string flags)
    {
        Exec("nft", "add", "table", "inet", "tcpqtest");
        Exec("nft", "add", "chain", "inet", "tcpqtest", "out", "{ type filter hook output priority 0; }");
        Exec("nft", "add", "rule", "inet", "tcpqtest", "out", "tcp", "sport", sourcePort.ToString(), "tcp", "flags", "==", flags, "drop");
        return new Lifted(() => Exec("nft", "delete", "table", "inet", "tcpqtest"));
    }

    private sealed class Lifted(Action lift) : IDisposable
    {
        private int _done;
        public void Dispose() { if (Interlocked.Exchange(ref _done, 1) == 0) lift(); }
    }

    public void Dispose()
    {
        try { Shell.Run("ip", "netns", "del", Name); } catch (InvalidOperationException) { }
    }
}
