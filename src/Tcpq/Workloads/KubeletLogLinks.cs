using Tcpq.Events;

namespace Tcpq.Workloads;

/// <summary>
/// Kubernetes names without any API: kubelet keeps a link per container in /var/log/containers,
/// <c>POD_NAMESPACE_CONTAINER-ID.log</c>, pointing to <c>/var/log/pods/NAMESPACE_POD_UID/CONTAINER/N.log</c>
/// (the same on containerd and CRI-O nodes). Pod, namespace and container names cannot hold '_'
/// (DNS-1123), so the name splits unambiguously; the link's target gives the pod's uid.
/// </summary>
public sealed class KubeletLogLinks(string directory)
{
    public const string DefaultDirectory = "/var/log/containers";

    public string Directory { get; } = directory;

    /// <summary>Every container the directory names, by container id. Empty when the directory
    /// is absent or unreadable (not a Kubernetes node, or not mounted).</summary>
    public Dictionary<string, Workload> Read()
    {
        var byId = new Dictionary<string, Workload>();
        IEnumerable<string> files;
        try { files = System.IO.Directory.EnumerateFiles(Directory, "*.log"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return byId; }
        try
        {
            foreach (var file in files)
            {
                string? target = null;
                try { target = new FileInfo(file).LinkTarget; }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
                if (Parse(Path.GetFileName(file), target) is { } w) byId[w.ContainerId!] = w;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // the directory went away
        return byId;
    }

    /// <summary>One link's name (and target, when it is a link): null when it is not kubelet's shape.</summary>
    public static Workload? Parse(string fileName, string? linkTarget)
    {
        if (!fileName.EndsWith(".log", StringComparison.Ordinal)) return null;
        var stem = fileName.AsSpan(0, fileName.Length - ".log".Length);
        if (stem.Length < 66 || stem[^65] != '-') return null;
        var id = stem[^64..];
        if (!ContainerCgroup.IsContainerId(id)) return null;
        var names = stem[..^65].ToString().Split('_');
        if (names.Length != 3) return null;
        string? pod = WorkloadText.Clean(names[0]), ns = WorkloadText.Clean(names[1]), container = WorkloadText.Clean(names[2]);
        if (pod is null || ns is null || container is null) return null;
        return new Workload(id.ToString(), PodUidOf(linkTarget, ns, pod), PodName: pod, Namespace: ns, K8sContainerName: container);
    }

    /// <summary>".../pods/NAMESPACE_POD_UID/CONTAINER/0.log" → UID, when the directory is the pod's.</summary>
    internal static string? PodUidOf(string? target, string ns, string pod)
    {
        if (target is null) return null;
        var parts = target.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 3) return null;
        var dir = parts[^3].Split('_');
        return dir.Length == 3 && dir[0] == ns && dir[1] == pod && ContainerCgroup.IsPodUid(dir[2]) ? dir[2] : null;
    }
}
