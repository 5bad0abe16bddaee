using Tcpq.Connections;
using System.Globalization;

namespace Tcpq.Connections.Diagnosis;

/// <summary>The diagnosis: runs every rule on every port (one class per rule, its thresholds
/// constants beside it, each described in docs/diagnosis.md); a port where none fires gets an "ok" finding that
/// says so with its numbers.</summary>
public static class Rulebook
{
    public static readonly IReadOnlyList<IDiagnosisRule> Rules =
    [
        new BacklogTooSmallRule(),
        // a .NET app's causes of slow accepts before slow-accept itself: at one severity, the order here is the order shown
        new ThreadPoolStarvationRule(),
        new GcPauseRule(),
        new SlowAcceptRule(),
        new SynQueuePressureRule(),
        new ClientsGaveUpRule(),
        new FinalAckRefusedRule(),
        new SynAckRetransmitRule(),
        new SynsLostUpstreamRule(),
        new SlowReadRule(),
        new SlowResponseRule(),
        new RequestsBeforeAcceptRule(),
        new KestrelConnectionLimitRule(),
    ];

    public static List<Finding> Diagnose(IReadOnlyList<PortSummary> ports, DiagnosisContext context)
    {
        var findings = new List<Finding>();
        foreach (var port in ports)
        {
            int before = findings.Count;
            foreach (var rule in Rules)
                if (rule.Check(port, context) is Finding f) findings.Add(f);
            if (findings.Count == before) findings.Add(Healthy(port));
        }
        if (ports.Count == 0)
            findings.Add(new Finding("no-traffic", Severity.Info, "", "no connection events were seen: nothing to diagnose."));
        return [.. findings.OrderByDescending(f => f.Severity)];
    }

    private static Finding Healthy(PortSummary p) => new("ok", Severity.Ok, p.Label,
        $"nothing wrong on {p.Label}: {p.Connections} connection{S(p.Connections)}, {p.Accepted} accepted; " +
        $"handshake p99 {Us(p.Handshake.P99)}, accept-queue wait p99 {Us(p.QueueWait.P99)}; " +
        "no drops, client retries, SYN cookies, aborts or SYN-ACK retransmits" +
        (p.App.Any ? $"; the application read the first request after p99 {Us(p.App.AcceptToRead.P99)} and answered after p99 {Us(p.App.ReadToWrite.P99)}." : "."));

    internal static string S(long n) => n == 1 ? "" : "s";
    internal static string Count(long n, string noun) => $"{n} {noun}{S(n)}";
    internal static string Us(long us) => Durations.TextUs(us);
    internal static string Percent(double share) => (share * 100).ToString(share < 0.1 && share > 0 ? "0.#" : "0", CultureInfo.InvariantCulture) + " %";
    internal static string Rate(double perSecond) => perSecond.ToString(perSecond < 10 ? "0.#" : "0", CultureInfo.InvariantCulture);
}
