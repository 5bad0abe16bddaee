namespace Tcpq;

/// <summary>An error meant for the user: one line, with context, and the exit code of its kind.</summary>
public sealed class TcpqException(ExitCode code, string message, Exception? inner = null) : Exception(message, inner)
{
    public ExitCode Code { get; } = code;
}
