using Tcpq.Aggregates;
using Tcpq.Events;

namespace Tcpq.Serve;

/// <summary>
/// What <c>serve</c> exports per listener, in one table for both exporters: the Prometheus name
/// (base units, <c>_total</c> on counters, <c>_seconds</c> on durations) and the OpenTelemetry
/// name (dotted, the unit apart). A listener's labels are OpenTelemetry's semantic-convention
/// attributes where one exists — <c>server.address</c>, <c>server.port</c>, <c>network.type</c>
/// (<c>server_address</c>… in Prometheus) — plus <c>netns</c>, the namespace's inode; all bounded
/// by the aggregator's listener limit (the rest merge into <c>server_address="other"</c>).
/// </summary>
public static class ListenerMetrics
{
    public sealed record Counter(string Prometheus, string Otel, string Help, Func<ListenerAggregate, long> Value);
    /// <summary>A gauge per listener; <paramref name="Now"/>: a value of now, shown only where the
    /// source read it now (<see cref="AggregateSnapshot.QueuesReadNow"/>).</summary>
    public sealed record Gauge(string Prometheus, string Otel, string Help, Func<ListenerAggregate, long> Value, bool Now = false);
    /// <summary>A counter split by a reason label (and, for drops, by the segment dropped).</summary>
    public sealed record ByReason(string Prometheus, string Otel, string Help, Func<ListenerAggregate, IEnumerable<(string? Segment, uint Reason, long Count)>> Values);
    public sealed record Histogram(string Prometheus, string Otel, string Help, Func<ListenerAggregate, Log2Histogram> Value);

    public static readonly Counter[] Counters =
    [
        new("tcpq_syns_total", "tcpq.syns", "SYNs that reached the listening socket, client retries included.", a => a.Syns),
        new("tcpq_syn_retries_total", "tcpq.syn.retries", "SYNs that were a client's retry (2nd or later SYN of the same connection).", a => a.SynRetries),
        new("tcpq_syn_cookies_total", "tcpq.syn.cookies", "SYNs answered with a SYN cookie (the SYN queue was full, or net.ipv4.tcp_syncookies=2).", a => a.SynCookies),
        new("tcpq_synack_retransmits_total", "tcpq.synack.retransmits", "SYN-ACKs the server retransmitted (the client's final ACK did not come in time).", a => a.SynAckRetransmits),
        new("tcpq_handshakes_total", "tcpq.handshakes", "Handshakes completed: connections that entered the accept queue.", a => a.Handshakes),
        new("tcpq_accepts_total", "tcpq.accepts", "Connections the application took from the accept queue with accept().", a => a.Accepts),
    ];

    public static readonly ByReason[] Reasons =
    [
        new("tcpq_listen_drops_total", "tcpq.listen.drops",
            "Segments the listener dropped, by segment (syn: a SYN; ack: the final ACK or first data) and reason; their sum is the kernel's TcpExtListenDrops.",
            a => a.SynDrops.Select(d => ((string?)"syn", d.Key, d.Value)).Concat(a.AckDrops.Select(d => ((string?)"ack", d.Key, d.Value)))),
        new("tcpq_aborts_total", "tcpq.aborts", "Connections reset or closed by the client while waiting in the accept queue, by reason.",
            a => a.Aborts.Select(d => ((string?)null, d.Key, d.Value))),
    ];

    /// <summary>Whether a listener's gauge is shown: never for "other" (many queues merged are no
    /// queue), and a gauge of now only where the source read the queues now; else it is left out
    /// rather than shown stale.</summary>
    public static bool Shows(Gauge gauge, AggregateSnapshot snapshot, ListenerAggregate listener) =>
        !ReferenceEquals(listener, snapshot.OtherListeners)
        && (!gauge.Now || snapshot.QueuesReadNow is null || snapshot.QueuesReadNow.Contains(listener.Key));

    public static readonly Gauge[] Gauges =
    [
        new("tcpq_accept_queue_length", "tcpq.accept_queue.length", "Connections waiting in the accept queue now (read at the scrape).", a => a.Q, Now: true),
        new("tcpq_accept_queue_limit", "tcpq.accept_queue.limit", "The accept queue's limit (the listen() backlog, capped by net.core.somaxconn); the kernel admits one more.", a => a.QMax, Now: true),
        new("tcpq_accept_queue_peak_length", "tcpq.accept_queue.peak_length", "The longest accept queue seen since tcpq started.", a => a.PeakQ),
        new("tcpq_syn_queue_length", "tcpq.syn_queue.length", "Half-open connections (SYN received, handshake not complete) now (read at the scrape).", a => a.Q0, Now: true),
        new("tcpq_syn_queue_peak_length", "tcpq.syn_queue.peak_length", "The most half-open connections seen since tcpq started.", a => a.PeakQ0),
    ];

    public static readonly Histogram[] Histograms =
    [
        new("tcpq_handshake_duration_seconds", "tcpq.handshake.duration", "From a connection's first SYN to its completed handshake (client retries included).", a => a.Handshake),
        new("tcpq_accept_queue_wait_seconds", "tcpq.accept_queue.wait", "Time a connection waited in the accept queue, from its completed handshake to accept() (sampled: see tcpq_latency_sample_ratio).", a => a.QueueWait),
        new("tcpq_syn_to_accept_seconds", "tcpq.syn_to_accept.duration", "From a connection's first SYN to accept() (the kernel's counting mode; sampled: see tcpq_latency_sample_ratio).", a => a.SynToAccept),
    ];

    /// <summary>The histogram buckets exported, as indices of <see cref="Log2Histogram"/> buckets:
    /// bucket k ends at 2^k µs, so these bounds (8 µs … 33.5 s) are exact sums of the kernel's
    /// power-of-two buckets, never an interpolation. Dense from 0.5 s to 8 s, where the clients' SYN
    /// retries (1 s, 3 s, 7 s) fall.</summary>
    public static readonly int[] BucketBounds = [3, 5, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25];

    /// <summary>A bound in seconds: 2^k µs.</summary>
    public static double BoundSeconds(int k) => (1L << k) / 1e6;

    /// <summary>Cumulative counts at each bound of <see cref="BucketBounds"/>, then the total (+Inf).</summary>
    public static long[] Cumulative(Log2Histogram h)
    {
        var counts = h.Counts;
        var result = new long[BucketBounds.Length + 1];
        long seen = 0;
        int fine = 0;
        for (int i = 0; i < BucketBounds.Length; i++)
        {
            for (; fine <= BucketBounds[i] && fine < counts.Length; fine++) seen += counts[fine];
            result[i] = seen;
        }
        result[^1] = h.Count;
        return result;
    }

    public const string Other = "other";

    /// <summary>network.type: ipv4 or ipv6 (an IPv4 client of a dual-stack listener is ipv4).</summary>
    public static string NetworkType(in ListenerKey key) => key.Address.IsV4Mapped ? "ipv4" : "ipv6";
}
