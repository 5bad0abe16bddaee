using System.Globalization;

namespace Tcpq.Connections;

/// <summary>The kernel settings a finding may name, read from this machine's /proc/sys (for
/// <c>report</c>, the machine reading the file: the finding says "here"). Null when unknown.</summary>
public sealed record DiagnosisContext(int? Somaxconn, int? TcpMaxSynBacklog, int? SynAckRetries, bool SettingsFromThisMachine = true)
{
    public static DiagnosisContext None { get; } = new(null, null, null);

    public static DiagnosisContext FromProc(string root = "/proc/sys/net") => new(
        ReadInt(Path.Combine(root, "core/somaxconn")),
        ReadInt(Path.Combine(root, "ipv4/tcp_max_syn_backlog")),
        ReadInt(Path.Combine(root, "ipv4/tcp_synack_retries")));

    private static int? ReadInt(string path)
    {
        try { return int.TryParse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture, out int v) ? v : null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}

/// <summary>One rule of the diagnosis: looks at a port's summary, says what is wrong and what to
/// change, or nothing. Each rule is described in docs/diagnosis.md.</summary>
public interface IDiagnosisRule
{
    string Name { get; }
    Finding? Check(PortSummary port, DiagnosisContext context);
}

/// <summary>Runs every rule on every port; a port where none fires gets an "ok" finding that
/// says so with its numbers.</summary>
public static class Diagnosis
{
    public static readonly IReadOnlyList<IDiagnosisRule> Rules =
    [
        new BacklogTooSmallRule(),
        new SlowAcceptRule(),
        new SynQueuePressureRule(),
        new ClientsGaveUpRule(),
        new SynAckRetransmitRule(),
        new SynsLostUpstreamRule(),
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
        "no drops, client retries, SYN cookies, aborts or SYN-ACK retransmits.");

    internal static string S(long n) => n == 1 ? "" : "s";
    internal static string Us(long us) => Durations.TextUs(us);
    internal static string Percent(double share) => (share * 100).ToString(share < 0.1 && share > 0 ? "0.#" : "0", CultureInfo.InvariantCulture) + " %";
    internal static string Rate(double perSecond) => perSecond.ToString(perSecond < 10 ? "0.#" : "0", CultureInfo.InvariantCulture);
}
