using System.Text.Json;
using Tcpq.Events;
using Tcpq.Serve;
using Tcpq.Workloads;

namespace Tcpq.Tests;

/// <summary>Names from kubelet's log links and the Docker-compatible API, checked as they come in,
/// and how they are written out.</summary>
public class WorkloadNamesTests
{
    private const string Id = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa99887766554433221100";
    private const string Uid = "2d9e2d38-2b5b-4e4c-9f44-3d6f2a3c1b7e";

    [Fact]
    public void A_kubelet_link_gives_pod_namespace_container_and_through_its_target_the_pod_uid()
    {
        var w = KubeletLogLinks.Parse($"web-7c5ddbdf54-8x2lq_shop_nginx-{Id}.log", $"/var/log/pods/shop_web-7c5ddbdf54-8x2lq_{Uid}/nginx/0.log");
        Assert.Equal(new Workload(Id, Uid, PodName: "web-7c5ddbdf54-8x2lq", Namespace: "shop", K8sContainerName: "nginx"), w);
        // a target of another pod (or none) gives no uid, the names still count
        Assert.Null(KubeletLogLinks.Parse($"web_shop_nginx-{Id}.log", $"/var/log/pods/other_web_{Uid}/nginx/0.log")!.PodUid);
        Assert.Null(KubeletLogLinks.Parse($"web_shop_nginx-{Id}.log", null)!.PodUid);
    }

    [Theory]
    [InlineData("web_shop_nginx.log")]
    [InlineData("web_shop-" + Id + ".log")]
    [InlineData("a_b_c_d-" + Id + ".log")]
    [InlineData("web_shop_nginx-" + Id + ".txt")]
    [InlineData("web_shop_nginx-3F4E5D6C7B8A99887766554433221100FFEEDDCCBBAA99887766554433221100.log")]
    [InlineData("w\u001b[31meb_shop_nginx-" + Id + ".log")]
    [InlineData("_shop_nginx-" + Id + ".log")]
    public void What_is_not_kubelets_shape_is_no_name(string file) => Assert.Null(KubeletLogLinks.Parse(file, null));

    [Fact]
    public void A_real_directory_of_links_is_read_with_its_targets()
    {
        var dir = Directory.CreateTempSubdirectory("tcpq-kubelet-");
        try
        {
            File.CreateSymbolicLink(Path.Combine(dir.FullName, $"api-0_prod_app-{Id}.log"), $"/var/log/pods/prod_api-0_{Uid}/app/3.log");
            File.WriteAllText(Path.Combine(dir.FullName, "unrelated.log"), "");
            var read = new KubeletLogLinks(dir.FullName).Read();
            Assert.Equal(new Workload(Id, Uid, PodName: "api-0", Namespace: "prod", K8sContainerName: "app"), Assert.Single(read).Value);
            Assert.Empty(new KubeletLogLinks(Path.Combine(dir.FullName, "absent")).Read());
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void The_runtime_api_list_gives_names_and_kubelets_labels()
    {
        var body = $$$"""
        [
          {"Id":"{{{Id}}}","Names":["/k8s_app_api-0_prod_{{{Uid}}}_0"],"Image":"x","State":"running",
           "Labels":{"io.kubernetes.pod.name":"api-0","io.kubernetes.pod.namespace":"prod","io.kubernetes.container.name":"app","io.kubernetes.pod.uid":"{{{Uid}}}"}},
          {"Id":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","Names":["/plain"],"Labels":null},
          {"Id":"1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","Names":["/bad\u001b]0;x"],"Labels":{"io.kubernetes.pod.uid":"not-a-uid","io.kubernetes.pod.name":"a\nb"}},
          {"Id":"short","Names":["/x"]}
        ]
        """;
        var byId = RuntimeApiClient.Parse(body);
        Assert.Equal(3, byId.Count);
        Assert.Equal(new Workload(Id, Uid, $"k8s_app_api-0_prod_{Uid}_0", "api-0", "prod", "app"), byId[Id]);
        Assert.Equal(new Workload("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", null, "plain"), byId["0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]);
        // what is not a name is dropped, never passed on to a terminal or a label
        Assert.Equal(new Workload("1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", null), byId["1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]);
        Assert.Throws<System.Text.Json.JsonException>(() => RuntimeApiClient.Parse("{\"message\":\"page not found\"}"));
    }

    [Fact]
    public void Labels_follow_opentelemetry_names_and_a_host_listener_has_none()
    {
        var w = new Workload(Id, Uid, "api", "api-0", "prod", "app");
        Assert.Equal($"container_id=\"{Id}\",k8s_pod_uid=\"{Uid}\",container_name=\"api\",k8s_pod_name=\"api-0\",k8s_namespace_name=\"prod\",k8s_container_name=\"app\",",
            PrometheusExposition.WorkloadLabels(w));
        Assert.Equal(["container.id", "k8s.pod.uid", "container.name", "k8s.pod.name", "k8s.namespace.name", "k8s.container.name"], w.Attributes().Select(a => a.Otel));
        Assert.Equal("", PrometheusExposition.WorkloadLabels(null));
        Assert.Equal($"container_id=\"{Id}\",", PrometheusExposition.WorkloadLabels(new Workload(Id, null)));
        Assert.Equal("prod/api-0/app", w.ShortText);
        Assert.Equal("api", new Workload(Id, null, "api").ShortText);
        Assert.Equal("3f4e5d6c7b8a", new Workload(Id, null).ShortText);
        Assert.Equal($"pod {Uid}", new Workload(null, Uid).ShortText);
    }

    [Theory]
    [InlineData("web-1", "web-1")]
    [InlineData("k8s_app_api-0_prod_0", "k8s_app_api-0_prod_0")]
    [InlineData("a.b", "a.b")]
    [InlineData("", null)]
    [InlineData("a b", null)]
    [InlineData("a\"b", null)]
    [InlineData("\u001b[2J", null)]
    [InlineData("ünï", null)]
    public void Only_names_pass(string value, string? expected) => Assert.Equal(expected, WorkloadText.Clean(value));
}

/// <summary>trace's JSON rows: the listener's container and pod after netns, only when it has one.</summary>
public class JsonRowWorkloadTests
{
    [Fact]
    public void A_row_of_a_listener_in_a_pod_names_it_and_a_host_row_has_no_such_field()
    {
        var pod = new Workload("3f4e5d6c7b8a99887766554433221100ffeeddccbbaa99887766554433221100", "2d9e2d38-2b5b-4e4c-9f44-3d6f2a3c1b7e", null, "web-0", "shop", "nginx");
        var inPod = TestEvents.Syn();
        var onHost = TestEvents.Syn();
        onHost.DestPort = 22;
        var asked = new List<ListenerKey>();
        var context = TestEvents.Context(DropReasons.Empty) with { Workloads = key => { asked.Add(key); return key.Port == inPod.DestPort ? pod : null; } };
        var text = TestEvents.Render(s => new Tcpq.Output.JsonEventWriter(s, context), inPod, onHost);
        var rows = TestEvents.Lines(text).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["netns", "container_id", "k8s_pod_uid", "k8s_pod_name", "k8s_namespace_name", "k8s_container_name"],
            rows[0].EnumerateObject().Select(p => p.Name).SkipWhile(n => n != "netns"));
        Assert.Equal("web-0", rows[0].GetProperty("k8s_pod_name").GetString());
        Assert.Equal("netns", rows[1].EnumerateObject().Last().Name);
        Assert.Equal(new ListenerKey(inPod.NetNs, inPod.DestAddress, inPod.DestPort), asked[0]); // the listener: the row's destination
    }
}

/// <summary>serve's two exporters: the workload after the listener's own labels, for the listeners
/// that have one.</summary>
public class ServeWorkloadLabelTests
{
    private static readonly Workload Pod = new("3f4e5d6c7b8a99887766554433221100ffeeddccbbaa99887766554433221100", "2d9e2d38-2b5b-4e4c-9f44-3d6f2a3c1b7e", null, "web-0", "shop", "nginx");

    [Fact]
    public void Prometheus_series_of_a_pods_listener_carry_its_labels_and_the_hosts_do_not()
    {
        var inPod = new Tcpq.Aggregates.ListenerAggregate(new ListenerKey(4026532999, Address16.V4Any, 8080)) { Syns = 3 };
        var onHost = new Tcpq.Aggregates.ListenerAggregate(new ListenerKey(4026531840, Address16.V4Any, 22)) { Syns = 1 };
        var snapshot = new Tcpq.Aggregates.AggregateSnapshot(DateTime.UtcNow, 1, [inPod, onHost], null, new Tcpq.Aggregates.AggregateCost(0, 0, null, 0))
        {
            Workloads = new Dictionary<ListenerKey, Workload> { [inPod.Key] = Pod },
        };
        var text = PrometheusExposition.Write(snapshot, DropReasons.Empty, "ebpf");
        Assert.Contains($"tcpq_syns_total{{server_address=\"0.0.0.0\",server_port=\"8080\",network_type=\"ipv4\",netns=\"4026532999\",container_id=\"{Pod.ContainerId}\",k8s_pod_uid=\"{Pod.PodUid}\",k8s_pod_name=\"web-0\",k8s_namespace_name=\"shop\",k8s_container_name=\"nginx\"}} 3\n", text);
        Assert.Contains("tcpq_syns_total{server_address=\"0.0.0.0\",server_port=\"22\",network_type=\"ipv4\",netns=\"4026531840\"} 1\n", text);
        // one series per listener still: as many syns lines as listeners
        Assert.Equal(2, text.Split('\n').Count(l => l.StartsWith("tcpq_syns_total{", StringComparison.Ordinal)));
    }

    [Fact]
    public void Otlp_attributes_of_a_pods_listener_follow_opentelemetrys_names()
    {
        var key = new ListenerKey(4026532999, Address16.V4Any, 8080);
        var tags = OtlpMetricsExport.ListenerAttributes(key, Pod);
        Assert.Equal(["server.address", "server.port", "network.type", "netns", "container.id", "k8s.pod.uid", "k8s.pod.name", "k8s.namespace.name", "k8s.container.name"], tags.Select(t => t.Key));
        Assert.Equal("web-0", tags.Single(t => t.Key == "k8s.pod.name").Value);
        Assert.Equal(4, OtlpMetricsExport.ListenerAttributes(key, null).Length);
    }
}
