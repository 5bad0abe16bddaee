using Tcpq.Workloads;

namespace Tcpq.Tests;

/// <summary>Cgroup paths as the runtimes and kubelet make them, with the cgroupfs and the systemd
/// driver, seen from the host or from inside a cgroup namespace: which container, which pod.</summary>
public class ContainerCgroupTests
{
    private const string Id = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa99887766554433221100";
    private const string Inner = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private const string Uid = "2d9e2d38-2b5b-4e4c-9f44-3d6f2a3c1b7e";
    private const string UidSystemd = "2d9e2d38_2b5b_4e4c_9f44_3d6f2a3c1b7e";
    private const string StaticUid = "6f8b8b0e2c1e4a0f8f1e3f5d6c7b8a9d";

    public static TheoryData<string, string?, ContainerRuntime, string?> Paths => new()
    {
        // docker
        { $"/docker/{Id}", Id, ContainerRuntime.Unknown, null },
        { $"/system.slice/docker-{Id}.scope", Id, ContainerRuntime.Docker, null },
        { $"/system.slice/docker-{Id}.scope/init.scope", Id, ContainerRuntime.Docker, null },
        { $"/docker/{Id}/docker/{Inner}", Inner, ContainerRuntime.Unknown, null },
        // podman: cgroupfs, systemd, rootless, in a podman pod (not a Kubernetes one)
        { $"/libpod_parent/libpod-{Id}", Id, ContainerRuntime.Podman, null },
        { $"/machine.slice/libpod-{Id}.scope", Id, ContainerRuntime.Podman, null },
        { $"/machine.slice/libpod-{Id}.scope/container", Id, ContainerRuntime.Podman, null },
        { $"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{Id}.scope", Id, ContainerRuntime.Podman, null },
        { $"/machine.slice/machine-libpod_pod_{Inner}.slice/libpod-{Id}.scope", Id, ContainerRuntime.Podman, null },
        // containerd under kubelet: cgroupfs (v1 and v2), systemd, every QoS class
        { $"/kubepods/burstable/pod{Uid}/{Id}", Id, ContainerRuntime.Unknown, Uid },
        { $"/kubepods/besteffort/pod{Uid}/{Id}", Id, ContainerRuntime.Unknown, Uid },
        { $"/kubepods/pod{Uid}/{Id}", Id, ContainerRuntime.Unknown, Uid },
        { $"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UidSystemd}.slice/cri-containerd-{Id}.scope", Id, ContainerRuntime.Containerd, Uid },
        { $"/kubepods.slice/kubepods-pod{UidSystemd}.slice/cri-containerd-{Id}.scope", Id, ContainerRuntime.Containerd, Uid },
        // CRI-O: systemd, cgroupfs, its monitor (the pod's, no container)
        { $"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UidSystemd}.slice/crio-{Id}.scope", Id, ContainerRuntime.CriO, Uid },
        { $"/kubepods/burstable/pod{Uid}/crio-{Id}", Id, ContainerRuntime.CriO, Uid },
        { $"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UidSystemd}.slice/crio-conmon-{Id}.scope", null, ContainerRuntime.Unknown, Uid },
        // docker under kubelet (dockershim, cri-dockerd)
        { $"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UidSystemd}.slice/docker-{Id}.scope", Id, ContainerRuntime.Docker, Uid },
        // kind and other nested kubelets; a cgroup namespace's relative view; a static pod's hash uid
        { $"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod{UidSystemd}.slice/cri-containerd-{Id}.scope", Id, ContainerRuntime.Containerd, Uid },
        { $"/../../kubepods/burstable/pod{Uid}/{Id}", Id, ContainerRuntime.Unknown, Uid },
        { $"/kubepods/burstable/pod{StaticUid}/{Id}", Id, ContainerRuntime.Unknown, StaticUid },
        // a pod's own cgroup: the pod, no container
        { $"/kubepods/besteffort/pod{Uid}", null, ContainerRuntime.Unknown, Uid },
        { $"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UidSystemd}.slice", null, ContainerRuntime.Unknown, Uid },
        // ECS and plain containerd namespaces: a bare id
        { $"/ecs/5a0d5b46e9c34a2b8f0e1d2c3b4a5968/{Id}", Id, ContainerRuntime.Unknown, null },
        { $"/default/{Id}", Id, ContainerRuntime.Unknown, null },
    };

    [Theory]
    [MemberData(nameof(Paths))]
    public void A_runtime_path_names_its_container_and_pod(string path, string? id, ContainerRuntime runtime, string? uid)
    {
        var c = ContainerCgroup.Parse(path);
        Assert.NotNull(c);
        Assert.Equal(id, c.ContainerId);
        Assert.Equal(runtime, c.Runtime);
        Assert.Equal(uid, c.PodUid);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("")]
    [InlineData("/init.scope")]
    [InlineData("/system.slice/sshd.service")]
    [InlineData("/system.slice/podman.service")]
    [InlineData("/user.slice/user-0.slice/session-4.scope")]
    [InlineData("/process_api/4f92ce41021a103a29c6d703197d0881")]
    [InlineData("/tcpq-test/pod2d9e2d38-2b5b-4e4c-9f44-3d6f2a3c1b7e")] // a pod-like name outside kubepods
    [InlineData("/docker/3F4E5D6C7B8A99887766554433221100FFEEDDCCBBAA99887766554433221100")] // not a runtime's id: upper case
    [InlineData("/docker/3f4e5d6c7b8a99887766554433221100ffeeddccbbaa9988776655443322110")] // 63 hex
    [InlineData("/system.slice/docker-3f4e5d6c.scope")]
    [InlineData("/machine.slice/libpod-conmon-3f4e5d6c7b8a99887766554433221100ffeeddccbbaa99887766554433221100.scope")] // podman's monitor
    public void A_host_path_names_nothing(string path) => Assert.Null(ContainerCgroup.Parse(path));

    [Fact]
    public void On_a_hybrid_host_a_container_only_in_the_v1_hierarchies_is_found_there()
    {
        var file = $"12:pids:/kubepods/burstable/pod{Uid}/{Id}\n" +
                   $"4:memory:/kubepods/burstable/pod{Uid}/{Id}\n" +
                   $"1:name=systemd:/kubepods/burstable/pod{Uid}/{Id}\n" +
                   "0::/\n";
        Assert.Equal(new ContainerCgroup(Id, ContainerRuntime.Unknown, Uid), ContainerCgroup.FromProcCgroup(file));
    }

    [Fact]
    public void The_v2_line_wins_when_it_names_a_container_and_a_v1_container_beats_a_v1_pod()
    {
        var v2 = $"4:memory:/libpod_parent/libpod-{Inner}\n0::/system.slice/docker-{Id}.scope\n";
        Assert.Equal(Id, ContainerCgroup.FromProcCgroup(v2)?.ContainerId);
        var v1 = $"5:cpu:/kubepods/burstable/pod{Uid}\n4:memory:/kubepods/burstable/pod{Uid}/{Id}\n0::/\n";
        Assert.Equal(new ContainerCgroup(Id, ContainerRuntime.Unknown, Uid), ContainerCgroup.FromProcCgroup(v1));
    }

    [Fact]
    public void A_host_process_and_a_malformed_file_name_nothing()
    {
        Assert.Null(ContainerCgroup.FromProcCgroup("12:pids:/\n4:memory:/process_api/abc\n0::/\n"));
        Assert.Null(ContainerCgroup.FromProcCgroup("garbage\n\n:::\n"));
        // a path with ':' in it is still read past the second ':'
        Assert.Equal(Id, ContainerCgroup.FromProcCgroup($"0::/weird:name/docker-{Id}.scope\n")?.ContainerId);
    }

    [Fact]
    public void The_cgroup2_mount_is_found_on_hybrid_and_unified_hosts()
    {
        string[] hybrid =
        [
            "25 1 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755",
            "26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate",
            "27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd",
        ];
        Assert.Equal("/sys/fs/cgroup/unified", CgroupDirectory.MountPointOf(hybrid));
        string[] unified = ["35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot"];
        Assert.Equal("/sys/fs/cgroup", CgroupDirectory.MountPointOf(unified));
        // in a container: its own cgroup's subtree first, the host's root bound elsewhere wins
        string[] container =
        [
            "700 690 0:30 /../../kubepods/pod1 /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw",
            "701 690 0:30 / /host/cgroup ro,nosuid - cgroup2 cgroup2 rw",
        ];
        Assert.Equal("/host/cgroup", CgroupDirectory.MountPointOf(container));
        Assert.Equal("/sys/fs/cgroup", CgroupDirectory.MountPointOf(container[..1]));
        Assert.Equal("/a b", CgroupDirectory.MountPointOf(["1 0 0:1 / /a\\040b rw - cgroup2 cgroup2 rw"]));
        Assert.Null(CgroupDirectory.MountPointOf(["1 0 0:1 / /proc rw - proc proc rw"]));
    }
}
