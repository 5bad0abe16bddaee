namespace Tcpq.KernelTests.Fixtures;

/// <summary>A fake kubelet-made container: a 64-hex id and a pod uid of its own, the cgroup paths
/// kubelet's two drivers give it, and kubelet's log link for it.</summary>
public sealed record FakePod(string Id, string Uid)
{
    public static FakePod New() => new(
        Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()) + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()),
        Guid.NewGuid().ToString());

    public string SystemdCgroup =>
        $"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{Uid.Replace('-', '_')}.slice/cri-containerd-{Id}.scope";

    public string CgroupfsCgroup => $"/kubepods/besteffort/pod{Uid}/{Id}";

    /// <summary>kubelet's /var/log/containers/POD_NAMESPACE_CONTAINER-ID.log → /var/log/pods/NAMESPACE_POD_UID/CONTAINER/0.log</summary>
    public void Link(string dir, string pod, string ns, string container) =>
        File.CreateSymbolicLink(Path.Combine(dir, $"{pod}_{ns}_{container}-{Id}.log"), $"/var/log/pods/{ns}_{pod}_{Uid}/{container}/0.log");
}
