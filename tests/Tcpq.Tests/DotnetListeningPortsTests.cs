using Tcpq.Dotnet;

namespace Tcpq.Tests;

/// <summary>Which listeners a joined process owns, read from a /proc laid out as the kernel lays it
/// out: its namespace's tcp table says who listens on a port, its fds say which sockets are its own.
/// top's diagnosis finds the process behind a listener by it.</summary>
public sealed class DotnetListeningPortsTests : IDisposable
{
    private readonly string _proc = Directory.CreateTempSubdirectory("tcpq-proc-").FullName;

    public void Dispose() => Directory.Delete(_proc, recursive: true);

    /// <summary>Process 812's namespace has listeners on 2000 (inode 111, its own), 3000 (inode
    /// 222, another process's) and a connection on 2000 (inode 333, its own, not listening).</summary>
    private void Lay()
    {
        string dir = Path.Combine(_proc, "812");
        Directory.CreateDirectory(Path.Combine(dir, "net"));
        Directory.CreateDirectory(Path.Combine(dir, "fd"));
        File.WriteAllLines(Path.Combine(dir, "net", "tcp"),
        [
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
            "   0: 0100007F:07D0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0",
            "   1: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 100 0 0 10 0",
            "   2: 0100007F:07D0 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0000000000000000 20 4 30 10 -1",
        ]);
        File.WriteAllText(Path.Combine(dir, "net", "tcp6"), "  sl  local_address remote_address st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
        File.CreateSymbolicLink(Path.Combine(dir, "fd", "3"), "socket:[111]");
        File.CreateSymbolicLink(Path.Combine(dir, "fd", "4"), "socket:[333]");
        File.CreateSymbolicLink(Path.Combine(dir, "fd", "5"), "/dev/null");
    }

    [Fact]
    public void A_process_owns_the_listeners_whose_sockets_it_holds_and_no_other()
    {
        Lay();
        Assert.Equal([(ushort)2000], DotnetProcess.ListeningPorts(812, [], _proc));
        Assert.Equal([(ushort)2000], DotnetProcess.ListeningPorts(812, [2000, 3000], _proc));
        Assert.Empty(DotnetProcess.ListeningPorts(812, [3000], _proc)); // its namespace listens there, not it
        Assert.Empty(DotnetProcess.ListeningPorts(999, [], _proc));     // gone
    }
}
