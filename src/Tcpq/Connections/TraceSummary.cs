using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>The answer for one listening port: counts, latencies, queue, the slowest connections
/// in words. What the renderers print and the diagnosis rules read.</summary>
public sealed record PortSummary(
    string Address, ushort Port, uint NetNs, bool IsOther,
    long Connections, long Established, long Accepted, long Aborted, long BeganBeforeTrace,
    long Expired, long Evicted, long StillOpen, long EstablishedNotAccepted,
    long Syns, long Arrivals, long Retries, long SynAckRetrans, long Cookies,
    long AcceptQueueDrops, long SynQueueDrops, long AckDrops,
    IReadOnlyDictionary<string, long> Drops, IReadOnlyDictionary<string, long> SynDrops, IReadOnlyDictionary<string, long> Aborts,
    LatencySummary Handshake, LatencySummary QueueWait, LatencySummary Total,
    double SpanSeconds, double ArrivalRate, double AcceptRate,
    uint PeakQ, uint PeakQ0, uint QMax, double QueueFullShare,
    IReadOnlyList<SlowLine> Slowest)
{
    public long DroppedSyns => SynDrops.Values.Sum();
    public long AllDrops => Drops.Values.Sum();

    /// <summary>":2000", or "10.0.0.1:2000" when the address is known and not a wildcard.</summary>
    public string Label => IsOther ? "(other listeners)" : $":{Port}";

    /// <summary>The longest any client waited from its first SYN, whatever the outcome.</summary>
    public long LongestWaitUs => Math.Max(Total.Max, Math.Max(Handshake.Max, Slowest.Count > 0 ? (long)(Slowest[0].Connection.DurationNs / 1000) : 0));
}

public sealed record SlowLine(SlowConnection Connection, string Text);

public enum Severity { Ok, Info, Warning, Critical }

/// <summary>One finding of the diagnosis: which rule, how bad, and the words (with the numbers
/// behind them and what to change).</summary>
public sealed record Finding(string Rule, Severity Severity, string Port, string Text);

/// <summary>Everything a summary shows.</summary>
public sealed record TraceSummary(
    string Source, long Events, IReadOnlyList<PortSummary> Ports, IReadOnlyList<Finding> Findings, string? InputError)
{
    public static TraceSummary Build(string source, ConnectionTracker tracker, DropReasons reasons, DiagnosisContext context, string? inputError = null)
    {
        var ports = tracker.Listeners
            .OrderBy(l => l.IsOverflow).ThenBy(l => l.Key.Port).ThenBy(l => l.Key.NetNs).ThenBy(l => l.Key.AddressText, StringComparer.Ordinal)
            .Select(l => Port(l, reasons)).ToList();
        return new TraceSummary(source, tracker.Events, ports, Diagnosis.Diagnose(ports, context), inputError);
    }

    private static PortSummary Port(ListenerStats l, DropReasons reasons)
    {
        Dictionary<string, long> Named(Dictionary<uint, long> counts) =>
            counts.OrderByDescending(d => d.Value).ToDictionary(d => reasons.Name(d.Key), d => d.Value);
        return new PortSummary(
            l.Key.AddressText, l.Key.Port, l.Key.NetNs, l.IsOverflow,
            l.Connections, l.Established, l.Accepted, l.Aborted, l.BeganBeforeTrace,
            l.Expired, l.Evicted, l.StillOpen, l.EstablishedNotAccepted,
            l.Syns, l.Arrivals, l.Retries, l.SynAckRetrans, l.Cookies,
            l.AcceptQueueDrops, l.SynQueueDrops, l.AckDrops,
            Named(l.Drops), Named(l.SynDrops), Named(l.Aborts),
            l.Handshake.Summary(), l.QueueWait.Summary(), l.Total.Summary(),
            l.SpanSeconds, l.Arrivals / l.SpanSeconds, l.Accepts / l.SpanSeconds,
            l.PeakQ, l.PeakQ0, l.QMax, l.QueueFullShare,
            [.. l.Slowest().Select(c => new SlowLine(c, c.Describe(reasons.Name)))]);
    }
}
