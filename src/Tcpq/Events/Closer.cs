namespace Tcpq.Events;

/// <summary>Who ended a connection first (a close row's Closed By): mirrors <c>enum tcpq_closer</c>
/// in bpf/tcpq.h.</summary>
public enum Closer : byte
{
    None = 0,
    Application = 1,   // close()/shutdown() sent a FIN first, or an abortive close sent a reset
    Peer = 2,          // the peer's FIN or reset came first
    Timeout = 3,       // the kernel gave up: retransmission or keepalive timeout
}

public static class Closers
{
    public static ReadOnlySpan<byte> Utf8Name(Closer c) => c switch
    {
        Closer.Application => "app"u8,
        Closer.Peer => "peer"u8,
        Closer.Timeout => "timeout"u8,
        _ => ""u8,
    };

    public static string Name(Closer c) => System.Text.Encoding.UTF8.GetString(Utf8Name(c));

    public static bool TryParse(ReadOnlySpan<byte> s, out Closer c)
    {
        foreach (var x in (ReadOnlySpan<Closer>)[Closer.Application, Closer.Peer, Closer.Timeout])
            if (s.SequenceEqual(Utf8Name(x))) { c = x; return true; }
        c = Closer.None;
        return s.IsEmpty;
    }
}
