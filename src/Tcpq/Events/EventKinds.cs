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
        EventKind.FirstRead => "first-read"u8,
        EventKind.FirstWrite => "first-write"u8,
        EventKind.Close => "close"u8,
        _ => "unknown"u8,
    };

    public static string Name(EventKind kind) => System.Text.Encoding.UTF8.GetString(Utf8Name(kind));

    public static readonly IReadOnlyList<EventKind> All = Enum.GetValues<EventKind>();

    /// <summary>Kinds a .NET runtime reports over EventPipe (app-*), not the kernel.</summary>
    public static bool IsDotnet(EventKind kind) => kind is >= EventKind.AppConn and <= EventKind.AppGc;

    /// <summary>Kinds about a whole process: no addresses or ports.</summary>
    public static bool IsProcessWide(EventKind kind) => kind is EventKind.AppPool or EventKind.AppStarve or EventKind.AppGc;

    /// <summary>The rows the kernel sees from inside the application, after accept(): its first read
    /// and write of the socket, and its close.</summary>
    public static bool IsApplication(EventKind kind) => kind is EventKind.FirstRead or EventKind.FirstWrite or EventKind.Close;

    /// <summary>Every kind but the application's (first-read, first-write, close): what trace makes by
    /// default, and all that serve and top count. The application's hooks run for every socket
    /// operation on the machine, so they are loaded only when asked for.</summary>
    public static IReadOnlySet<EventKind> Connection { get; } = All.Where(k => !IsApplication(k)).ToHashSet();

    public static bool TryParse(string name, out EventKind kind)
    {
        foreach (var k in All)
            if (Name(k) == name) { kind = k; return true; }
        kind = default;
        return false;
    }
}
