namespace Tcpq.Connections;

/// <summary>A port's connections inside the application: the stages after accept() (accept → first
/// read, first read → first write, lifetime), how long the first request waited in the socket, who
/// closed. What the renderers print and the application rules read.</summary>
public sealed record ApplicationSummary(
    long FirstReads, long FirstWrites, long Closes, long WroteFirst, long RequestsBeforeAccept, long Resets,
    long OnlyApplication, long BytesIn, long BytesOut, IReadOnlyDictionary<string, long> ClosedBy,
    LatencySummary AcceptToRead, LatencySummary DataAge, LatencySummary Unread, LatencySummary BeforeAccept,
    LatencySummary ReadToWrite, LatencySummary Lifetime)
{
    private static readonly LatencySummary None = new(0, 0, 0, 0, 0, []);

    public static readonly ApplicationSummary Empty = new(0, 0, 0, 0, 0, 0, 0, 0, 0, new Dictionary<string, long>(), None, None, None, None, None, None);

    /// <summary>Any row from inside the application was seen.</summary>
    public bool Any => FirstReads + FirstWrites + Closes > 0;
}
