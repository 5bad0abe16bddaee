using System.Runtime.InteropServices;

namespace Tcpq.Interop;

/// <summary>The errno values tcpq tells apart (Linux, asm-generic/errno-base.h) and the one way
/// an errno becomes text.</summary>
internal static class Errno
{
    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int EINTR = 4;
    internal const int ENXIO = 6;
    internal const int EACCES = 13;
    internal const int EINVAL = 22;
    internal const int EPIPE = 32;

    /// <summary>The errno of the last call declared with <c>SetLastError = true</c>, as its stub saved it.</summary>
    internal static int Last => Marshal.GetLastPInvokeError();

    /// <summary>The C library's text ("Operation not permitted"), through the runtime's
    /// thread-safe strerror_r.</summary>
    internal static string Text(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
