namespace Tcpq.Events;

/// <summary>The names the Action column uses, as UTF-8 and as text.</summary>
public static class EventKinds
{
    public static ReadOnlySpan<byte> Utf8Name(EventKind kind) => kind switch
    {
        EventKind.Syn => "syn"u8,
        EventKind.SynDrop => "syn-drop"u8,
        EventKind.SynCookie => "syn-cookie"u8,
        EventKind.SynAckRetrans => "synack-retrans"u8,
        EventKind.SynAa => "syn-aa"u8,
        EventKind.AckDrop => "ack-drop"u8,
        EventKind.Accept => "accept"u8,
        EventKind.Abort => "abort"u8,
        EventKind.AppConn => "app-conn"u8,
        EventKind.AppRequest => "app-request"u8,
        EventKind.AppClose => "app-close"u8,
        EventKind.AppReject => "app-reject"u8,
        EventKind.AppPool => "app-pool"u8,
        EventKind.AppStarve => "app-starve"u8,
        EventKind.AppGc => "app-gc"u8,
        _ => "unknown"u8,
    };

    public static string Name(EventKind kind) => System.Text.Encoding.UTF8.GetString(Utf8Name(kind));

    public static readonly IReadOnlyList<EventKind> All = Enum.GetValues<EventKind>();

    /// <summary>Kinds the application reports (EventPipe), not the kernel.</summary>
    public static bool IsApp(EventKind kind) => kind >= EventKind.AppConn;

    /// <summary>Kinds about a whole process: no addresses or ports.</summary>
    public static bool IsProcessWide(EventKind kind) => kind >= EventKind.AppPool;

    public static bool TryParse(string name, out EventKind kind)
    {
        foreach (var k in All)
            if (Name(k) == name) { kind = k; return true; }
        kind = default;
        return false;
    }
}
