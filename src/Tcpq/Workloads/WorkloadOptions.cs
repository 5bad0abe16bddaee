namespace Tcpq.Workloads;

/// <summary>Where names come from: the Docker-compatible API's socket (null: docker's or
/// podman's usual one, if present) and kubelet's log-link directory; <see cref="Enabled"/> false
/// (<c>--workloads off</c>) looks nothing up.</summary>
public sealed record WorkloadOptions(bool Enabled = true, string? RuntimeSocket = null, string? KubeletLogs = KubeletLogLinks.DefaultDirectory)
{
    public static readonly WorkloadOptions Default = new();
    public static readonly WorkloadOptions Off = new(Enabled: false);
}
