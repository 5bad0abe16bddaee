using Tcpq.Connections.Diagnosis;
using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>Everything a summary shows.</summary>
public sealed record TraceSummary(
    string Source, long Events, IReadOnlyList<PortSummary> Ports, IReadOnlyList<Finding> Findings, string? InputError)
{
    public static TraceSummary Build(string source, ConnectionTracker tracker, DropReasons reasons, DiagnosisContext context, string? inputError = null)
    {
        var ports = tracker.Listeners
            .OrderBy(l => l.IsOverflow).ThenBy(l => l.Key.Port).ThenBy(l => l.Key.NetNs).ThenBy(l => l.Key.AddressText, StringComparer.Ordinal)
            .Select(l => Port(l, reasons) with { Dotnet = AppSummary.Of(l, tracker.Apps) }).ToList();
        return new TraceSummary(source, tracker.Events, ports, Rulebook.Diagnose(ports, context), inputError);
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
            [.. l.Slowest().Select(c => new SlowLine(c, c.Describe(reasons.Name)))])
        {
            AckHeldClients = l.AckHeldClients,
            AckHold = l.AckHold.Summary(),
            App = l.App.Summary(),
        };
    }
}
