namespace Tcpq.Events;

/// <summary>
/// Where a listener runs: its container and, on a Kubernetes node, its pod — OpenTelemetry's
/// resource attributes <c>container.id</c>, <c>k8s.pod.uid</c>, <c>container.name</c>,
/// <c>k8s.pod.name</c>, <c>k8s.namespace.name</c>, <c>k8s.container.name</c>. Null fields are
/// unknown; a listener of the host has no workload at all. Every value has passed
/// <see cref="WorkloadText.Clean"/>: safe in a terminal, a label and a CSV cell.
/// </summary>
public sealed record Workload(
    string? ContainerId,
    string? PodUid,
    string? ContainerName = null,
    string? PodName = null,
    string? Namespace = null,
    string? K8sContainerName = null)
{
    /// <summary>The attributes that are known, in a fixed order: (OpenTelemetry name, Prometheus
    /// name, value). The one list every output writes from.</summary>
    public IEnumerable<(string Otel, string Prometheus, string Value)> Attributes()
    {
        if (ContainerId is { } id) yield return ("container.id", "container_id", id);
        if (PodUid is { } uid) yield return ("k8s.pod.uid", "k8s_pod_uid", uid);
        if (ContainerName is { } name) yield return ("container.name", "container_name", name);
        if (PodName is { } pod) yield return ("k8s.pod.name", "k8s_pod_name", pod);
        if (Namespace is { } ns) yield return ("k8s.namespace.name", "k8s_namespace_name", ns);
        if (K8sContainerName is { } c) yield return ("k8s.container.name", "k8s_container_name", c);
    }

    /// <summary>A short name for a person: "namespace/pod/container", the container's name, or
    /// the first 12 characters of its id (as docker ps shows it).</summary>
    public string ShortText =>
        PodName is not null ? string.Join('/', new[] { Namespace, PodName, K8sContainerName }.Where(s => s is not null))
        : ContainerName ?? (ContainerId is { } id ? id[..Math.Min(12, id.Length)] : PodUid is { } uid ? $"pod {uid}" : "");
}

/// <summary>Names that come from other processes (a runtime's API, kubelet's files) are checked
/// once, as they come in: container and Kubernetes names are ASCII letters, digits, '.', '_' and
/// '-' (docker: [a-zA-Z0-9][a-zA-Z0-9_.-]; Kubernetes: DNS-1123), so anything else — an escape
/// sequence, a quote, a line feed — means the value is not a name and it is dropped.</summary>
public static class WorkloadText
{
    public const int MaxLength = 253;

    public static string? Clean(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxLength) return null;
        foreach (char c in value)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')) return null;
        return value;
    }
}
