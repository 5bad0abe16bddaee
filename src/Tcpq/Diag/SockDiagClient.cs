using System.Net.Sockets;
using Tcpq.Interop;
using static Tcpq.Diag.NetlinkMessages;

namespace Tcpq.Diag;

/// <summary>
/// A NETLINK_SOCK_DIAG socket, the interface <c>ss</c> uses. It belongs to the network namespace
/// of the thread that opened it, for its whole life. Needs no privilege: any user may dump.
/// </summary>
public sealed class SockDiagClient : IDisposable
{
    // The kernel sends dumps in datagrams of at most 32 KiB; a bigger buffer lets truncation show.
    private const int ReceiveBufferSize = 64 * 1024;
    private const int MaxDatagrams = 1_000_000;
    private static readonly TimeSpan DumpTimeout = TimeSpan.FromSeconds(30);

    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[ReceiveBufferSize];
    private uint _seq;

    private SockDiagClient(Socket socket) => _socket = socket;

    public static SockDiagClient Open()
    {
        NativeLibraryResolver.Install();
        int fd = Netlink.Socket(Netlink.AF_NETLINK, Netlink.SOCK_RAW | Netlink.SOCK_CLOEXEC, Netlink.NETLINK_SOCK_DIAG);
        if (fd < 0)
        {
            int errno = Errno.Last;
            throw errno is Errno.EPERM or Errno.EACCES
                ? new TcpqException(ExitCode.NoPermission, "open a sock_diag netlink socket: permission denied")
                : new TcpqException(ExitCode.UnsupportedKernel, $"open a sock_diag netlink socket: {Errno.Text(errno)}");
        }
        var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true)) { ReceiveTimeout = 5000 };
        return new SockDiagClient(socket);
    }

    /// <summary>Every TCP socket of <paramref name="family"/> in one of <paramref name="states"/>,
    /// with its drop counter when <paramref name="withDrops"/>.</summary>
    public List<DiagSocket> Dump(byte family, uint states, bool withDrops, List<DiagSocket>? into = null)
    {
        into ??= [];
        uint seq = ++_seq;
        try
        {
            _socket.Send(DumpRequest(family, states, withDrops ? ExtSkMemInfo : (byte)0, seq));
            var deadline = DateTime.UtcNow + DumpTimeout;
            for (int i = 0; i < MaxDatagrams; i++)
            {
                int n = _socket.Receive(_buffer);
                if (n >= _buffer.Length)
                    throw new TcpqException(ExitCode.Failure, $"malformed sock_diag reply from the kernel: a datagram filled the whole {_buffer.Length}-byte buffer (truncated)");
                if (DiagReplyParser.Parse(_buffer.AsSpan(0, n), seq, into)) return into;
                if (DateTime.UtcNow > deadline) break;
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            throw new TcpqException(ExitCode.Failure, "sock_diag dump: the kernel stopped answering (no reply within 5 s)");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AccessDenied)
        {
            throw DiagReplyParser.KernelError(Errno.EACCES);
        }
        catch (SocketException e)
        {
            throw new TcpqException(ExitCode.Failure, $"sock_diag dump: {e.Message}");
        }
        throw new TcpqException(ExitCode.Failure, $"sock_diag dump: no end after {DumpTimeout.TotalSeconds:0} s");
    }

    /// <summary>IPv4 and IPv6 together.</summary>
    public List<DiagSocket> DumpBoth(uint states, bool withDrops)
    {
        var all = Dump(AF_INET, states, withDrops);
        return Dump(AF_INET6, states, withDrops, all);
    }

    public void Dispose() => _socket.Dispose();
}
