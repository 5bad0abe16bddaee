namespace Tcpq.Workloads;

/// <summary>Which runtime's naming a cgroup path followed (informative: the id is the same kind
/// of 64-hex id for all of them).</summary>
public enum ContainerRuntime { Unknown, Docker, Podman, Containerd, CriO }

/// <summary>What a cgroup path says: the container's id, its runtime, and the pod's uid when the
/// path is under kubelet's kubepods hierarchy. Either may be missing (a pod's own cgroup has a
/// uid and no container).</summary>
public sealed record ContainerCgroup(string? ContainerId, ContainerRuntime Runtime, string? PodUid)
{
    /// <summary>
    /// Reads a cgroup path (as <c>/proc/PID/cgroup</c> or a walk of the hierarchy gives it, v1 or
    /// v2, relative to any root). The shapes, with the cgroupfs and the systemd driver:
    /// <code>
    /// docker      /docker/ID                                  /system.slice/docker-ID.scope
    /// podman      /libpod_parent/libpod-ID                    /machine.slice/libpod-ID.scope[/container]
    /// containerd  /kubepods/burstable/podUID/ID               /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podUID.slice/cri-containerd-ID.scope
    /// CRI-O       /kubepods/besteffort/podUID/crio-ID         …/kubepods-besteffort-podUID.slice/crio-ID.scope
    /// </code>
    /// The deepest container segment wins (a container inside a container is the inner one);
    /// the runtimes' monitors (<c>libpod-conmon-ID</c>, <c>crio-conmon-ID</c>) are not containers.
    /// A pod uid counts only below a segment named for kubepods (systemd writes its dashes as '_').
    /// Null when the path names neither.
    /// </summary>
    public static ContainerCgroup? Parse(ReadOnlySpan<char> path)
    {
        var segments = new List<Range>();
        foreach (var r in path.Split('/'))
            if (path[r].Length > 0) segments.Add(r);

        string? id = null;
        var runtime = ContainerRuntime.Unknown;
        int at = segments.Count;
        for (int i = segments.Count - 1; i >= 0 && id is null; i--)
        {
            if (ContainerSegment(path[segments[i]]) is { } found)
            {
                (id, runtime) = found;
                at = i;
            }
        }

        string? uid = null;
        bool underKubepods = false;
        for (int i = 0; i < at; i++)
        {
            var s = path[segments[i]];
            if (underKubepods && uid is null && PodSegment(s) is { } u) uid = u;
            if (s.Contains("kubepods", StringComparison.Ordinal)) underKubepods = true;
        }
        return id is null && uid is null ? null : new ContainerCgroup(id, runtime, uid);
    }

    private static readonly (string Prefix, ContainerRuntime Runtime)[] Prefixes =
    [
        ("docker-", ContainerRuntime.Docker),
        ("libpod-", ContainerRuntime.Podman),
        ("cri-containerd-", ContainerRuntime.Containerd),
        ("crio-", ContainerRuntime.CriO),
    ];

    /// <summary>"ID", "docker-ID.scope", "libpod-ID", "cri-containerd-ID.scope", "crio-ID.scope".</summary>
    internal static (string Id, ContainerRuntime Runtime)? ContainerSegment(ReadOnlySpan<char> s)
    {
        if (IsContainerId(s)) return (s.ToString(), ContainerRuntime.Unknown);
        if (s.EndsWith(".scope", StringComparison.Ordinal)) s = s[..^".scope".Length];
        foreach (var (prefix, runtime) in Prefixes)
            if (s.StartsWith(prefix, StringComparison.Ordinal) && IsContainerId(s[prefix.Length..]))
                return (s[prefix.Length..].ToString(), runtime);
        return null;
    }

    /// <summary>A container id as docker, podman, containerd and CRI-O make them: 64 lowercase hex.</summary>
    public static bool IsContainerId(ReadOnlySpan<char> s)
    {
        if (s.Length != 64) return false;
        foreach (char c in s)
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c)) return false;
        return true;
    }

    /// <summary>"podUID" (cgroupfs) or "kubepods[-QOS]-podUID_WITH_UNDERSCORES.slice" (systemd):
    /// the uid with dashes. A uid is 8-4-4-4-12 hex, or 32 hex for a static pod (the hash of its manifest).</summary>
    internal static string? PodSegment(ReadOnlySpan<char> s)
    {
        if (s.EndsWith(".slice", StringComparison.Ordinal)) s = s[..^".slice".Length];
        int pod = s.LastIndexOf("pod", StringComparison.Ordinal);
        if (pod < 0 || (pod > 0 && s[pod - 1] != '-')) return null;
        var uid = s[(pod + 3)..].ToString().Replace('_', '-');
        return IsPodUid(uid) ? uid : null;
    }

    public static bool IsPodUid(ReadOnlySpan<char> s)
    {
        if (s.Length == 32)
        {
            foreach (char c in s)
                if (!char.IsAsciiHexDigit(c)) return false;
            return true;
        }
        if (s.Length != 36) return false;
        for (int i = 0; i < s.Length; i++)
        {
            bool dash = i is 8 or 13 or 18 or 23;
            if (dash ? s[i] != '-' : !char.IsAsciiHexDigit(s[i])) return false;
        }
        return true;
    }

    /// <summary>
    /// A <c>/proc/PID/cgroup</c> file's answer: the cgroup v2 line ("0::PATH") first, then each
    /// v1 hierarchy's line in the file's order — on a hybrid host a runtime may place a container
    /// in the v1 hierarchies only. The first line that names a container (or a pod) wins.
    /// </summary>
    public static ContainerCgroup? FromProcCgroup(string content)
    {
        ContainerCgroup? v1 = null;
        foreach (var line in content.Split('\n'))
        {
            // hierarchy-ID:controllers:path (the path may itself contain ':')
            int first = line.IndexOf(':');
            int second = first < 0 ? -1 : line.IndexOf(':', first + 1);
            if (second < 0) continue;
            var parsed = Parse(line.AsSpan(second + 1));
            if (parsed is null) continue;
            if (line.StartsWith("0::", StringComparison.Ordinal) && parsed.ContainerId is not null) return parsed;
            if (v1 is null || (v1.ContainerId is null && parsed.ContainerId is not null)) v1 = parsed;
        }
        return v1;
    }
}
