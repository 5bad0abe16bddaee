namespace Tcpq.Interop;

/// <summary>A native call that failed, with its errno. The wrappers here throw it; the caller, who
/// knows what it was doing and what the errno means for the user, turns it into a
/// <see cref="TcpqException"/> (<see cref="As"/>).</summary>
internal sealed class ErrnoException(string call, int errno) : Exception($"{call}: {Interop.Errno.Text(errno)}")
{
    public int Errno { get; } = errno;

    /// <summary>"<paramref name="what"/>: the errno's text", the way tcpq says a failed call.</summary>
    public TcpqException As(ExitCode code, string what) => new(code, $"{what}: {Interop.Errno.Text(Errno)}");

    /// <summary>libbpf's convention: a negative result is an errno.</summary>
    internal static int ThrowIfNegative(int result, string call) =>
        result >= 0 ? result : throw new ErrnoException(call, -result);
}
