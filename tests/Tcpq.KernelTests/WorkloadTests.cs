using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>
/// Listeners named by their container and pod, in one namespace: a podman container carrying
/// kubelet's labels (names from podman's Docker-compatible API), a process in a kubepods-shaped
/// cgroup v2 (the pod's uid from the cgroup, names from a /var/log/containers laid out as kubelet
/// does), and the test host's own listener (the host's: no labels). serve, trace's JSON rows,
/// listeners and top all say so.
/// </summary>
public class WorkloadTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static void ConnectOnce(NetNamespace ns, int port)
    {
        using var c = ns.Client(AddressFamily.InterNetwork);
        c.Connect(new IPEndPoint(IPAddress.Loopback, port));
    }

    /// <summary>The label sets of a metric's samples for one port.</summary>
    private static List<Dictionary<string, string>> LabelSets(string metrics, string name, int port) =>
        [.. metrics.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains($"server_port=\"{port}\"", StringComparison.Ordinal))
            .Select(l => System.Text.RegularExpressions.Regex.Matches(l[(name.Length + 1)..l.LastIndexOf('}')], "([a-z0-9_]+)=\"([^\"]*)\"")
                .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value))];

    private static readonly string[] ListenerLabels = ["server_address", "server_port", "network_type", "netns"];

    /// <summary>A series' labels past the listener's own, as "name=value" in order.</summary>
    private static List<string> Workload(Dictionary<string, string> labels) =>
        [.. labels.Where(l => !ListenerLabels.Contains(l.Key)).Select(l => $"{l.Key}={l.Value}")];

    private static List<string> Labels(params (string Name, string Value)[] labels) => [.. labels.Select(l => $"{l.Name}={l.Value}")];

    private static string ScrapeUntil(TcpqServe serve, Func<string, bool> done, string what)
    {
        string metrics = "";
        for (var sw = System.Diagnostics.Stopwatch.StartNew(); sw.Elapsed < Wait; Thread.Sleep(200))
            if (done(metrics = serve.Metrics())) return metrics;
        throw new Xunit.Sdk.XunitException($"{what} not in the metrics within {Wait.TotalSeconds} s:\n{metrics}\n{string.Join("\n", serve.Stderr)}");
    }

    [Fact]
    public void Serve_trace_listeners_and_top_name_a_container_a_kubepods_process_and_not_the_host_and_a_stopped_containers_series_leave_with_their_labels()
    {
        using var ns = NetNamespace.Create();
        int appPort = Ports.Next(), podPort = Ports.Next(), hostPort = Ports.Next();
        using var api = PodmanService.Start();
        using var container = PodmanContainer.Start(ns, appPort, new Dictionary<string, string>
        {
            ["io.kubernetes.pod.name"] = "web-0",
            ["io.kubernetes.pod.namespace"] = "shop",
            ["io.kubernetes.container.name"] = "nginx",
        });
        var pod = FakePod.New();
        var logs = Directory.CreateTempSubdirectory("tcpq-kubelet-logs-");
        pod.Link(logs.FullName, "api-7d4b9c-x2x9q", "prod", "app");
        using var kubepods = CgroupProcess.Start(ns, pod.SystemdCgroup, Podman.AcceptServer, podPort.ToString());
        using var host = ns.Listen(IPAddress.Loopback, hostPort, backlog: 8);
        string[] names = ["--runtime-socket", api.Socket, "--kubelet-logs", logs.FullName];
        void ConnectEach()
        {
            ConnectOnce(ns, appPort);
            ConnectOnce(ns, podPort);
            ConnectOnce(ns, hostPort);
            host.Accept().Dispose(); // the test is the host's server: its queue stays empty
        }

        using var serve = TcpqServe.Start(["-p", $"{appPort},{podPort},{hostPort}", .. names]);
        using var top = PipedTcpq.Start(["top", "-p", $"{appPort},{podPort},{hostPort}", "--interval", "300ms", "--dotnet", "off", .. names]);
        Assert.StartsWith("tcpq top 20", top.ReadLine(Wait)); // attached
        using var trace = PipedTcpq.Start(["trace", "-p", $"{appPort},{podPort},{hostPort}", "-f", "json", "--dotnet", "off", .. names]);

        // trace's JSON rows: connect until each listener has a row (the trace is attached by then)
        var traced = new Dictionary<int, JsonElement>();
        for (var sw = System.Diagnostics.Stopwatch.StartNew(); sw.Elapsed < Wait && traced.Count < 3; )
        {
            ConnectEach();
            for (string? line; traced.Count < 3 && (line = trace.ReadLine(TimeSpan.FromSeconds(1))) is not null; )
            {
                var row = JsonDocument.Parse(line).RootElement.Clone();
                traced.TryAdd(row.GetProperty("dest_port").GetInt32(), row);
            }
        }
        Assert.Equal(container.Id, traced[appPort].GetProperty("container_id").GetString());
        Assert.Equal("shop", traced[appPort].GetProperty("k8s_namespace_name").GetString());
        Assert.Equal(pod.Uid, traced[podPort].GetProperty("k8s_pod_uid").GetString());
        Assert.False(traced[hostPort].TryGetProperty("container_id", out _));

        var metrics = ScrapeUntil(serve, m => LabelSets(m, "tcpq_syns_total", appPort).Count == 1 && LabelSets(m, "tcpq_syns_total", podPort).Count == 1
            && LabelSets(m, "tcpq_syns_total", hostPort).Count == 1, "a syns series of each listener");
        var app = Assert.Single(LabelSets(metrics, "tcpq_syns_total", appPort));
        // podman's cgroup is no pod's, and no label gave a uid: no k8s_pod_uid
        Assert.Equal(Labels(("container_id", container.Id), ("container_name", container.Name), ("k8s_pod_name", "web-0"), ("k8s_namespace_name", "shop"), ("k8s_container_name", "nginx")),
            Workload(app));
        var inPod = Assert.Single(LabelSets(metrics, "tcpq_syns_total", podPort));
        // kubelet's links name no runtime container: no container_name
        Assert.Equal(Labels(("container_id", pod.Id), ("k8s_pod_uid", pod.Uid), ("k8s_pod_name", "api-7d4b9c-x2x9q"), ("k8s_namespace_name", "prod"), ("k8s_container_name", "app")),
            Workload(inPod));
        var onHost = Assert.Single(LabelSets(metrics, "tcpq_syns_total", hostPort));
        Assert.Equal(ListenerLabels, onHost.Keys);
        // every family of a listener carries the same labels: no series added
        Assert.All(LabelSets(metrics, "tcpq_accept_queue_limit", appPort), l => Assert.Equal(container.Id, l["container_id"]));

        // listeners, from sock_diag: the same names
        var json = Shell.Run(TcpqBinary.Path, ["listeners", "--netns", ns.Path, "--format", "json", .. names]);
        var rows = JsonDocument.Parse(json).RootElement.EnumerateArray().ToDictionary(r => r.GetProperty("local_port").GetInt32());
        Assert.Equal(container.Id, rows[appPort].GetProperty("container_id").GetString());
        Assert.Equal("web-0", rows[appPort].GetProperty("k8s_pod_name").GetString());
        Assert.Equal(pod.Uid, rows[podPort].GetProperty("k8s_pod_uid").GetString());
        Assert.False(rows[hostPort].TryGetProperty("container_id", out _));

        // top: a WORKLOAD column, namespace/pod/container
        var screen = new List<string>();
        // a row's WORKLOAD cell is its second, right after LISTENER (cells are 2+ spaces apart)
        bool Shows(int port, string workload) => screen.Any(l => l.Contains($":{port} ")
            && System.Text.RegularExpressions.Regex.Split(l.Trim(), " {2,}") is [_, var cell, ..] && cell == workload);
        // the rows come in the frame's order (busiest first): read until all three are there
        bool AllShown() => Shows(appPort, "shop/web-0/nginx") && Shows(podPort, "prod/api-7d4b9c-x2x9q/app") && Shows(hostPort, "-"); // the host's: a dash
        for (var sw = System.Diagnostics.Stopwatch.StartNew(); sw.Elapsed < Wait && !AllShown(); )
            screen.Add(top.ReadLine(Wait) ?? "");
        Assert.Contains(screen, l => l.Contains("WORKLOAD") && l.Contains("LISTENER"));
        Assert.True(AllShown(), string.Join("\n", screen));

        // the container stops: its listener closes, and its series leave with it (shown a last
        // time, with their final values and its labels); never a series of it without them
        container.Stop();
        for (int i = 0; i < 100 && ns.Exec("ss", "-Hltn", $"sport = :{appPort}").Contains("LISTEN", StringComparison.Ordinal); i++) Thread.Sleep(50);
        ConnectRefused(ns, appPort);
        var lastSeen = new List<Dictionary<string, string>>();
        var gone = ScrapeUntil(serve, m =>
        {
            var sets = LabelSets(m, "tcpq_syns_total", appPort);
            lastSeen.AddRange(sets);
            return sets.Count == 0;
        }, "the stopped container's listener gone");
        Assert.All(lastSeen, l => Assert.Equal(app, l));
        Assert.Single(LabelSets(gone, "tcpq_syns_total", podPort)); // the others stay
        logs.Delete(recursive: true);
    }

    private static void ConnectRefused(NetNamespace ns, int port)
    {
        using var c = ns.Client(AddressFamily.InterNetwork);
        var e = Assert.Throws<SocketException>(() => c.Connect(new IPEndPoint(IPAddress.Loopback, port)));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
    }

    [Fact]
    public void The_daemonsets_pod_runs_under_podman_kube_play_and_names_a_listener_in_a_kubepods_cgroup_by_its_pod()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        var pod = FakePod.New();
        var logs = Directory.CreateTempSubdirectory("tcpq-kubelet-logs-");
        pod.Link(logs.FullName, "shop-5f7c9-abcde", "retail", "server");
        // the cgroupfs driver's shape this time (the other test has systemd's)
        using var listener = CgroupProcess.Start(ns, pod.CgroupfsCgroup, Podman.AcceptServer, port.ToString());
        using var daemon = KubePlayPod.Play(logs.FullName);

        string? metrics = null;
        for (var sw = System.Diagnostics.Stopwatch.StartNew(); sw.Elapsed < TimeSpan.FromSeconds(60) && metrics is null; Thread.Sleep(250))
            metrics = daemon.Scrape();
        Assert.True(metrics is not null, $"the pod did not serve /metrics within 60 s: {daemon.Logs()}");

        // a client in the test's namespace: the pod sees it through the host's cgroup root, and
        // finds the socket's cgroup id (read by the kernel side) in the host's hierarchy
        ConnectOnce(ns, port);
        List<Dictionary<string, string>> series = [];
        for (var sw = System.Diagnostics.Stopwatch.StartNew(); sw.Elapsed < Wait && series.Count == 0; Thread.Sleep(250))
            series = LabelSets(daemon.Scrape() ?? "", "tcpq_syns_total", port);
        var labels = Assert.Single(series);
        Assert.Equal(ns.Inode.ToString(), labels["netns"]);
        Assert.Equal(Labels(("container_id", pod.Id), ("k8s_pod_uid", pod.Uid), ("k8s_pod_name", "shop-5f7c9-abcde"), ("k8s_namespace_name", "retail"), ("k8s_container_name", "server")),
            Workload(labels));
        Assert.DoesNotContain("listeners in other network namespaces", daemon.Logs());
        logs.Delete(recursive: true);
    }

    [Fact]
    public void Under_the_systemd_units_capabilities_a_pods_listener_in_another_namespace_is_named_by_its_pod_and_a_host_listener_is_not()
    {
        // the unit gives no CAP_SYS_ADMIN: tcpq cannot enter the pod's network namespace (setns),
        // so the listener's cgroup can only come from the kernel side (counting mode's slot)
        Assert.DoesNotContain("sys_admin", SystemdUnitCapabilities.Ambient);
        using var ns = NetNamespace.Create();
        int podPort = Ports.Next(), hostPort = Ports.Next();
        var pod = FakePod.New();
        using var kubepods = CgroupProcess.Start(ns, pod.SystemdCgroup, Podman.AcceptServer, podPort.ToString());
        using var host = ns.Listen(IPAddress.Loopback, hostPort, backlog: 8);
        using var serve = TcpqServe.StartAs(SystemdUnitCapabilities.Setpriv(), "-p", $"{podPort},{hostPort}");

        const int Connections = 3;
        for (int i = 0; i < Connections; i++) ConnectOnce(ns, podPort);
        ConnectOnce(ns, hostPort);
        host.Accept().Dispose();
        var seen = new List<Dictionary<string, string>>();
        var metrics = ScrapeUntil(serve, m =>
        {
            var sets = LabelSets(m, "tcpq_syns_total", podPort);
            seen.AddRange(sets);
            return sets.Count == 1 && TcpqServe.Sum(m, "tcpq_syns_total", $"server_port=\"{podPort}\"") == Connections
                && LabelSets(m, "tcpq_syns_total", hostPort).Count == 1;
        }, $"{Connections} SYNs of the pod's listener and the host's listener");

        // the pod's series carry its labels from the first scrape they are in
        Assert.All(seen, l => Assert.Equal(Labels(("container_id", pod.Id), ("k8s_pod_uid", pod.Uid)), Workload(l)));
        var inPod = Assert.Single(LabelSets(metrics, "tcpq_syns_total", podPort));
        Assert.Equal(ns.Inode.ToString(), inPod["netns"]);
        Assert.Equal(ListenerLabels, Assert.Single(LabelSets(metrics, "tcpq_syns_total", hostPort)).Keys);
        Assert.Equal(1, TcpqServe.Sum(metrics, "tcpq_syns_total", $"server_port=\"{hostPort}\""));
        // the host's listener is looked for in its namespace (for its owners), which the unit's
        // capabilities do not allow: said once, with what it needs
        Assert.Contains(serve.Stderr, l => l.Contains("listeners in other network namespaces are not read to look up their owners", StringComparison.Ordinal)
            && l.Contains("CAP_SYS_ADMIN", StringComparison.Ordinal));
    }
}
