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

    /// <summary>Kinds whose rows may be about the process only: the process-wide ones, and an
    /// app-reject of a connection whose start the session did not ask for (Kestrel names a refused
    /// connection by its id only).</summary>
    public static bool MayBeProcessWide(EventKind kind) => IsProcessWide(kind) || kind == EventKind.AppReject;

    /// <summary>Whether the row carries a 4-tuple: not a process-wide one, nor an app-reject
    /// without one (port 0: Kestrel never accepts a connection to port 0).</summary>
    public static bool HasTuple(in TcpqEvent e) => !IsProcessWide(e.Kind) && !(e.Kind == EventKind.AppReject && e.DestPort == 0);

    /// <summary>The rows the kernel sees from inside the application, after accept(): its first read
    /// and write of the socket, and its close.</summary>
    public static bool IsApplication(EventKind kind) => kind is EventKind.FirstRead or EventKind.FirstWrite or EventKind.Close;

    /// <summary>Kestrel's rows about one connection (app-conn, app-request, app-close): the runtime
    /// writes them on every connection or request of the app, which costs it (bench/RESULTS.md),
    /// so they are asked of it only when named.</summary>
    public static bool IsAppConnection(EventKind kind) => kind is EventKind.AppConn or EventKind.AppRequest or EventKind.AppClose;

    /// <summary>Kinds made only when named with -e: the application's (first-read, first-write,
    /// close), whose hooks run for every socket operation on the machine, and Kestrel's per
    /// connection (app-conn, app-request, app-close), which the joined app pays for per request.</summary>
    public static bool IsOptIn(EventKind kind) => IsApplication(kind) || IsAppConnection(kind);

    /// <summary>Every kind but the opt-in ones (<see cref="IsOptIn"/>): what trace makes by
    /// default, and all that serve and top count.</summary>
    public static IReadOnlySet<EventKind> Connection { get; } = All.Where(k => !IsOptIn(k)).ToHashSet();

    public static bool TryParse(string name, out EventKind kind)
    {
        foreach (var k in All)
            if (Name(k) == name) { kind = k; return true; }
        kind = default;
        return false;
    }
}
