using System.Runtime.InteropServices;

namespace Tcpq.Interop;

/// <summary>The two calls .NET has no API for: a netlink socket (the Socket constructor refuses
/// AF_NETLINK) and entering another network namespace.</summary>
internal static partial class Netlink
{
    private const string Library = "libc";

    internal const int AF_NETLINK = 16;
    internal const int SOCK_RAW = 3;
    internal const int SOCK_CLOEXEC = 0x80000;
    internal const int NETLINK_SOCK_DIAG = 4;
    internal const int CLONE_NEWNET = 0x40000000;

    [LibraryImport(Library, EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Library, EntryPoint = "setns", SetLastError = true)]
    internal static partial int SetNs(int fd, int nstype);
}
