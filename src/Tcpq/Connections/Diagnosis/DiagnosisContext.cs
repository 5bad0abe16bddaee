using Tcpq.Connections;
using System.Globalization;

namespace Tcpq.Connections.Diagnosis;

/// <summary>The kernel settings a finding may name, read from this machine's /proc/sys (for
/// <c>report</c>, the machine reading the file: the finding says "here"). Null when unknown.</summary>
public sealed record DiagnosisContext(int? Somaxconn, int? TcpMaxSynBacklog, int? SynAckRetries, bool SettingsFromThisMachine = true)
{
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
