using Tcpq.Events;
using Tcpq.Workloads;

namespace Tcpq.Tests;

/// <summary>What a listener's labels do over time: looked up when it first appears, kept when its
/// socket goes (a stopped container), changed only by a socket found again, forgotten with the key.</summary>
public class WorkloadResolverTests
{
    private static readonly ListenerKey Web = new(4026532001, Address16.V4Any, 8080), Db = new(4026532002, Address16.V4Any, 5432);
    private static readonly Workload WebPod = new("3f4e5d6c7b8a99887766554433221100ffeeddccbbaa99887766554433221100", "2d9e2d38-2b5b-4e4c-9f44-3d6f2a3c1b7e", PodName: "web-0");
    private static readonly Workload Other = new("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", null, "other");

    private long _now = 1_000;
    private readonly Dictionary<ListenerKey, Workload?> _sockets = [];
    private readonly List<int> _lookups = [];

    private WorkloadResolver Resolver() => new(keys =>
    {
        _lookups.Add(keys.Count);
        return keys.Where(_sockets.ContainsKey).ToDictionary(k => k, k => _sockets[k]);
    }, () => _now);

    [Fact]
    public void A_new_listener_is_looked_up_once_and_a_host_listener_has_no_workload()
    {
        _sockets[Web] = WebPod;
        _sockets[Db] = null;
        var r = Resolver();
        var of = r.For([Web, Db]);
        Assert.Equal(WebPod, of[Web]);
        Assert.False(of.ContainsKey(Db));
        _now += 5_000;
        of = r.For([Web, Db]);
        Assert.Equal(WebPod, of[Web]);
        Assert.Equal([2], _lookups); // the second scrape asked nothing
    }

    [Fact]
    public void A_stopped_containers_listener_keeps_its_labels_through_a_recheck()
    {
        _sockets[Web] = WebPod;
        var r = Resolver();
        r.For([Web]);
        _sockets.Remove(Web); // the container stopped: no socket any more
        _now += (long)WorkloadResolver.Recheck.TotalMilliseconds;
        Assert.Equal(WebPod, r.For([Web]).GetValueOrDefault(Web));
        Assert.Equal([1, 1], _lookups); // it was looked at again, and kept
    }

    [Fact]
    public void A_socket_found_again_under_the_same_key_with_another_cgroup_changes_them()
    {
        _sockets[Web] = WebPod;
        var r = Resolver();
        r.For([Web]);
        _sockets[Web] = Other; // a namespace inode reused by another pod, same port
        Assert.Equal(WebPod, r.For([Web]).GetValueOrDefault(Web)); // not before the recheck
        _now += (long)WorkloadResolver.Recheck.TotalMilliseconds;
        Assert.Equal(Other, r.For([Web]).GetValueOrDefault(Web));
    }

    [Fact]
    public void A_listener_whose_cgroup_id_names_a_pod_is_named_without_looking_in_its_namespace_and_a_new_pods_cgroup_is_found_when_asked()
    {
        // a cgroup v2 hierarchy of directories: an id is a directory's inode, as kernfs makes it
        var root = Directory.CreateTempSubdirectory("tcpq-cgroup2-");
        try
        {
            string uid = "2d9e2d38-2b5b-4e4c-9f44-3d6f2a3c1b7e", id = new string('a', 64);
            ulong InodeOf(string path) => Tcpq.Interop.Libc.InodeOf(path) ?? throw new InvalidOperationException(path);
            var container = Directory.CreateDirectory(Path.Combine(root.FullName, "kubepods", "besteffort", $"pod{uid}", id)).FullName;
            var system = Directory.CreateDirectory(Path.Combine(root.FullName, "system.slice", "ssh.service")).FullName;
            _sockets[Db] = null;
            var r = new WorkloadResolver(keys =>
            {
                _lookups.Add(keys.Count);
                return keys.Where(_sockets.ContainsKey).ToDictionary(k => k, k => _sockets[k]);
            }, () => _now, new CgroupDirectory(root.FullName));

            var of = r.For([(Web, InodeOf(container)), (Db, InodeOf(system))]);
            Assert.Equal(new Workload(id, uid), of[Web]);
            Assert.False(of.ContainsKey(Db));
            Assert.Equal([1], _lookups); // only the host's listener was looked for (its owners)

            // a pod started later: its cgroup is not known yet, and is found by walking again
            string uid2 = "7a1b6c2d-0000-4e4c-9f44-3d6f2a3c1b7e", id2 = new string('b', 64);
            var later = Directory.CreateDirectory(Path.Combine(root.FullName, "kubepods", "burstable", $"pod{uid2}", id2)).FullName;
            var api = new ListenerKey(4026532003, Address16.V4Any, 9000);
            of = r.For([(Web, InodeOf(container)), (Db, InodeOf(system)), (api, InodeOf(later))]);
            Assert.Equal(new Workload(id2, uid2), of[api]);
            Assert.Equal([1], _lookups);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_key_no_longer_read_is_forgotten_so_the_cache_is_bounded_by_the_readings()
    {
        _sockets[Web] = WebPod;
        var r = Resolver();
        r.For([Web]);
        Assert.Null(r.For([Db]).GetValueOrDefault(Web)); // Web left the readings
        _sockets.Remove(Web);
        Assert.Null(r.For([Web]).GetValueOrDefault(Web)); // back, with no socket: nothing known any more
        Assert.Equal([1, 1, 1], _lookups);
    }
}

/// <summary>The snapshot carries the workloads (serve and top read them from there): each reading
/// asks the resolver for its listeners, and a reading with nothing new looks nothing up.</summary>
public class WorkloadAggregateSourceTests
{
    private static readonly ListenerKey Web = new(4026532001, Address16.V4Any, 8080), Ssh = new(4026531840, Address16.V4Any, 22);
    private static readonly Workload WebPod = new(null, "2d9e2d38-2b5b-4e4c-9f44-3d6f2a3c1b7e", PodName: "web-0", Namespace: "shop");

    private sealed class Listeners(params ListenerKey[] keys) : Tcpq.Aggregates.IAggregateSource
    {
        public ListenerKey[] Keys { get; set; } = keys;
        public DropReasons Reasons => DropReasons.Empty;
        public Tcpq.Aggregates.AggregateSnapshot Read() => new(DateTime.UtcNow, 1,
            [.. Keys.Select(k => new Tcpq.Aggregates.ListenerAggregate(k) { Syns = 1 })], null, new Tcpq.Aggregates.AggregateCost(0, 0, null, 0));
        public void Dispose() { }
    }

    [Fact]
    public void Every_reading_carries_the_workloads_of_its_listeners_and_tops_rows_show_them()
    {
        var lookups = new List<int>();
        var inner = new Listeners(Web, Ssh);
        using var source = new WorkloadAggregateSource(inner, new WorkloadResolver(keys =>
        {
            lookups.Add(keys.Count);
            return keys.ToDictionary(k => k, k => k == Web ? WebPod : null);
        }, () => 0));

        var first = source.Read();
        Assert.Equal(WebPod, first.Workloads[Web]);
        Assert.False(first.Workloads.ContainsKey(Ssh)); // the host's: no labels
        var second = source.Read();
        Assert.Same(first.Workloads, second.Workloads); // nothing new: the same answers, no lookup
        Assert.Equal([2], lookups);

        var rows = Tcpq.Top.TopView.Rows(null, Tcpq.Top.TopReading.Of(second), DropReasons.Empty, null);
        Assert.Equal(WebPod, rows.Single(r => r.Key == Web).Workload);
        Assert.Null(rows.Single(r => r.Key == Ssh).Workload);

        inner.Keys = [Ssh]; // Web closed and left the readings
        Assert.Empty(source.Read().Workloads);
        Assert.Equal([2], lookups);
    }
}

/// <summary>top's table: a WORKLOAD column only when a listener runs in a container or pod.</summary>
public class TopWorkloadColumnTests
{
    private static Top.TopRow Row(ushort port, Workload? w) =>
        new(new ListenerKey(1, Address16.V4Any, port), 0, 0, 0, 0, 0, 0, 0, [], 0, null, null, null, null, null) { Workload = w };

    [Fact]
    public void The_column_is_there_only_with_a_workload_and_a_host_row_shows_a_dash()
    {
        Assert.DoesNotContain(Top.TopColumns.For([Row(22, null)]), c => c.Heading == "WORKLOAD");
        var columns = Top.TopColumns.For([Row(22, null), Row(80, new Workload(null, null, PodName: "web-0", Namespace: "shop", K8sContainerName: "nginx"))]);
        var workload = Assert.Single(columns, c => c.Heading == "WORKLOAD");
        Assert.Equal(1, columns.ToList().IndexOf(workload)); // right after LISTENER
        Assert.Equal("-", workload.Text(Row(22, null)));
        Assert.Equal("shop/web-0/nginx", workload.Text(Row(80, new Workload(null, null, PodName: "web-0", Namespace: "shop", K8sContainerName: "nginx"))));
    }
}

/// <summary>The workload flags of every verb: a path given must be there, one line and exit 2.</summary>
public class WorkloadFlagsTests
{
    [Theory]
    [InlineData("serve", "--runtime-socket", "/nonexistent/docker.sock", "bad --runtime-socket '/nonexistent/docker.sock': no such socket")]
    [InlineData("top", "--kubelet-logs", "/nonexistent/containers", "bad --kubelet-logs '/nonexistent/containers': no such directory")]
    [InlineData("listeners", "--runtime-socket", "/nonexistent/podman.sock", "bad --runtime-socket")]
    [InlineData("trace", "--kubelet-logs", "/nonexistent", "bad --kubelet-logs")]
    [InlineData("serve", "--workloads", "sometimes", "bad --workloads 'sometimes': one of auto, off")]
    public void A_bad_workload_flag_is_one_line_and_exit_2(string verb, string flag, string value, string message)
    {
        var console = new TestConsole();
        int code = TcpqProgram.Run([verb, flag, value], console.Console);
        var lines = console.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, code);
        Assert.Contains(message, Assert.Single(lines));
    }

    [Fact]
    public void A_source_of_names_with_workloads_off_is_a_contradiction()
    {
        var console = new TestConsole();
        Assert.Equal(2, TcpqProgram.Run(["listeners", "--workloads", "off", "--kubelet-logs", Path.GetTempPath()], console.Console));
        Assert.Contains("not with --workloads off", console.Error);
    }
}
