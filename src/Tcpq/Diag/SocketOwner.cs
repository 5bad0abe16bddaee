namespace Tcpq.Diag;

/// <summary>A process holding a socket: its pid (the thread group) and comm.</summary>
public readonly record struct SocketOwner(int Pid, string Comm)
{
    public override string ToString() => $"{Pid}/{Comm}";
}
