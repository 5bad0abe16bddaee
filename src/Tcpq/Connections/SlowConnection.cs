using System.Globalization;
using System.Text;
using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>A connection worth showing by itself: what happened to it, copied out of its timeline
/// (timelines are reused) so that it can be put into words once the reason names are known.</summary>
public sealed record SlowConnection(
    string Source, ushort SourcePort, ushort DestPort, uint Attempts, uint Drops, uint FirstDropReason,
    uint? DropQ, uint? DropQMax, uint SynAckRetrans, bool Cookie, bool BeganBeforeTrace,
    bool Established, ulong? HandshakeNs, ulong? QueueWaitNs, ulong? TotalNs, ulong DurationNs,
    bool Accepted, uint? Pid, string? Comm, bool Aborted, uint AbortReason, TimelineEnd End)
{
    /// <summary>Final ACK or data segments refused (ack-drop rows), and how long they held the handshake.</summary>
    public uint AckDrops { get; init; }
    public ulong? AckHoldNs { get; init; }
    /// <summary>Inside the application.</summary>
    public bool Read { get; init; }
    public ulong? AcceptToReadNs { get; init; }
    public ulong? DataAgeNs { get; init; }
    public ulong FirstReadBytes { get; init; }
    public bool Written { get; init; }
    public bool WroteFirst { get; init; }
    public ulong? ReadToWriteNs { get; init; }
    public ulong FirstWriteBytes { get; init; }
    public bool Closed { get; init; }
    public ulong? LifetimeNs { get; init; }
    public Closer Closer { get; init; }
    public bool CloseReset { get; init; }
    public ulong BytesIn { get; init; }
    public ulong BytesOut { get; init; }
    /// <summary>The application's side (--dotnet): accept() to Kestrel's start, the first request, a refusal.</summary>
    public ulong? AcceptToAppNs { get; init; }
    public ulong? FirstRequestNs { get; init; }
    public bool AppRejected { get; init; }

    public static SlowConnection From(ConnectionTimeline t, TimelineEnd end) => new(
        t.Key.SourceText, t.Key.SourcePort, t.Key.DestPort, t.Attempts, t.Drops + t.InferredDrops,
        t.Drops > 0 ? t.FirstDropReason : DropReasons.AcceptQueueFull,
        t.DropHadQueues ? t.DropQ : t.FullSyns > 0 ? t.FullSynQ : null, t.DropHadQueues ? t.DropQMax : t.FullSyns > 0 ? t.FullSynQMax : null, t.SynAckRetrans, t.Cookie,
        t.BeganBeforeTrace, t.Established, t.Handshake, t.QueueWait, t.Total, t.Duration,
        t.Accepted, t.Accepted && t.Pid != 0 ? t.Pid : null, t.Accepted ? Comm16.Text(t.Comm) : null,
        t.Aborted, t.AbortReason, end)
    {
        AckDrops = t.AckDrops,
        AckHoldNs = t.AckHoldNs,
        Read = t.Read, AcceptToReadNs = t.AcceptToRead, DataAgeNs = t.DataAge, FirstReadBytes = t.FirstReadBytes,
        Written = t.Written, WroteFirst = t.WroteFirst, ReadToWriteNs = t.ReadToWrite, FirstWriteBytes = t.FirstWriteBytes,
        Closed = t.Closed, LifetimeNs = t.Lifetime, Closer = t.Closer, CloseReset = t.CloseReset,
        BytesIn = t.BytesIn, BytesOut = t.BytesOut,
        AcceptToAppNs = t.AcceptToApp,
        FirstRequestNs = t.HasFirstRequest ? t.FirstRequestNs : null,
        AppRejected = t.AppRejected,
    };

    /// <summary>One line in words, e.g. <c>172.16.170.1:50066 → :2000  SYN ×4 (3 dropped:
    /// accept-queue-full, Q 2/2) · established after 7.01 s · accepted after 7.02 s by nginx[812]</c>.</summary>
    public string Describe(Func<uint, string> reasonName)
    {
        var b = new StringBuilder();
        b.Append(Source.Contains(':') ? $"[{Source}]" : Source).Append(':').Append(SourcePort).Append(" → :").Append(DestPort).Append("  ");
        if (BeganBeforeTrace) b.Append(Attempts > 0 ? $"SYN ×{Attempts}, the first before tracing" : "began before tracing");
        else b.Append("SYN ×").Append(Attempts);
        if (Drops > 0)
        {
            b.Append(" (").Append(Drops).Append(" dropped: ").Append(reasonName(FirstDropReason));
            if (DropQ is uint q && DropQMax is uint qmax) b.Append(", Q ").Append(q).Append('/').Append(qmax);
            b.Append(')');
        }
        if (Cookie) b.Append(" · SYN cookie");
        if (AckDrops > 0)
            b.Append(" · final ACK/data refused ×").Append(AckDrops)
             .Append(AckHoldNs is ulong held && held > 0 ? $" over {Durations.Text(held)}" : "");
        if (SynAckRetrans > 0) b.Append(" · ").Append(SynAckRetrans).Append(SynAckRetrans == 1 ? " SYN-ACK retransmit" : " SYN-ACK retransmits");
        if (Established)
            b.Append(HandshakeNs is ulong h ? $" · established after {Durations.Text(h)}" : " · established");
        if (Accepted)
        {
            if (TotalNs is ulong t) b.Append(" · accepted after ").Append(Durations.Text(t));
            else if (QueueWaitNs is ulong w) b.Append(" · accepted after ").Append(Durations.Text(w)).Append(" in the queue");
            else b.Append(" · accepted");
            if (Comm != null || Pid != null) b.Append(" by ").Append(Comm ?? "?").Append('[').Append(Pid?.ToString(CultureInfo.InvariantCulture) ?? "?").Append(']');
        }
        else if (Aborted)
            b.Append(" · ").Append(reasonName(AbortReason)).Append(" after ").Append(Durations.Text(DurationNs));
        else
            b.Append(End switch
            {
                TimelineEnd.StillOpen => Established ? " · still in the accept queue when tracing ended" : " · still in the handshake when tracing ended",
                TimelineEnd.Evicted => " · no more room to follow it (evicted)",
                _ => Established ? " · never accepted" : " · never established",
            }).Append(DurationNs > 0 ? $" ({Durations.Text(DurationNs)})" : "");
        DescribeApplication(b);
        if (AcceptToAppNs is ulong app) b.Append(" · Kestrel started it ").Append(Durations.Text(app)).Append(" later");
        if (AppRejected) b.Append(" · refused by Kestrel (connection limit)");
        if (FirstRequestNs is ulong req) b.Append(" · first request took ").Append(Durations.Text(req));
        return b.ToString();
    }

    /// <summary>" · first read after 2.01 s (120 B; its data had waited 2.01 s) · answered after 4 ms
    /// (512 B) · closed by the peer after 2.1 s, 120 B in / 512 B out"</summary>
    private void DescribeApplication(StringBuilder b)
    {
        if (Written && WroteFirst)
            b.Append(" · wrote first (").Append(FirstWriteBytes).Append(" B)");
        if (Read)
        {
            b.Append(" · first read").Append(AcceptToReadNs is ulong ar ? $" after {Durations.Text(ar)}" : "").Append(" (").Append(FirstReadBytes).Append(" B");
            if (DataAgeNs is ulong age)
                b.Append("; its data had waited ").Append(Durations.Text(age))
                 .Append(AcceptToReadNs is ulong a && age > a ? $", {Durations.Text(age - a)} of it before accept" : "");
            b.Append(')');
        }
        if (Written && !WroteFirst)
            b.Append(" · answered").Append(ReadToWriteNs is ulong rw ? $" after {Durations.Text(rw)}" : "").Append(" (").Append(FirstWriteBytes).Append(" B)");
        if (Closed)
        {
            b.Append(" · closed by ").Append(Closer switch { Closer.Application => "the application", Closer.Peer => "the peer", Closer.Timeout => "a timeout", _ => "?" })
             .Append(CloseReset ? " with a reset" : "")
             .Append(LifetimeNs is ulong life ? $" after {Durations.Text(life)}" : "")
             .Append(", ").Append(BytesIn).Append(" B in / ").Append(BytesOut).Append(" B out");
        }
    }
}
