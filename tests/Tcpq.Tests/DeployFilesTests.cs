using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace Tcpq.Tests;

/// <summary>deploy/kubernetes/ holds together: the DaemonSet probes the paths that need no password
/// and names the seccomp profile shipped beside it, which denies by default and allows the two
/// system calls tcpq is about; the NetworkPolicy admits only Prometheus to the DaemonSet's pods, on
/// its metrics port. (The profile and the unit run for real in the kernel tests.)</summary>
public class DeployFilesTests
{
    private static string RepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "tcpq.slnx"))) return Path.Combine(dir.FullName, relative);
        throw new InvalidOperationException("no tcpq.slnx above the test binaries");
    }

    private static YamlMappingNode Document(string file, string kind)
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(RepoFile(file))));
        return yaml.Documents.Select(d => (YamlMappingNode)d.RootNode).Single(m => m["kind"].ToString() == kind);
    }

    private static YamlMappingNode Map(YamlNode node, params string[] path) =>
        path.Aggregate((YamlMappingNode)node, (m, key) => (YamlMappingNode)m[key]);

    private static YamlMappingNode DaemonSetContainer() =>
        (YamlMappingNode)((YamlSequenceNode)Map(Document("deploy/kubernetes/tcpq-daemonset.yaml", "DaemonSet"), "spec", "template", "spec")["containers"]).Single();

    [Fact]
    public void The_DaemonSet_probes_the_health_paths_and_names_the_seccomp_profile_shipped_beside_it()
    {
        var container = DaemonSetContainer();
        Assert.Equal("/-/ready", Map(container, "readinessProbe", "httpGet")["path"].ToString());
        Assert.Equal("/-/healthy", Map(container, "livenessProbe", "httpGet")["path"].ToString());
        var seccomp = Map(container, "securityContext", "seccompProfile");
        Assert.Equal("Localhost", seccomp["type"].ToString());
        Assert.True(File.Exists(RepoFile("deploy/kubernetes/" + seccomp["localhostProfile"])), seccomp["localhostProfile"].ToString());
        Assert.DoesNotContain("Unconfined", File.ReadAllText(RepoFile("deploy/kubernetes/tcpq-daemonset.yaml")));
    }

    [Fact]
    public void The_seccomp_profile_denies_by_default_and_allows_bpf_and_perf_event_open_without_conditions()
    {
        var profile = JsonNode.Parse(File.ReadAllText(RepoFile("deploy/kubernetes/tcpq-seccomp.json")))!;
        Assert.Equal("SCMP_ACT_ERRNO", profile["defaultAction"]!.GetValue<string>());
        var rules = profile["syscalls"]!.AsArray();
        foreach (var call in new[] { "bpf", "perf_event_open" })
        {
            var naming = rules.Where(r => r!["names"]!.AsArray().Any(n => n!.GetValue<string>() == call)).ToList();
            var rule = Assert.Single(naming);
            Assert.Equal("SCMP_ACT_ALLOW", rule!["action"]!.GetValue<string>());
            Assert.Empty(rule["args"]?.AsArray() ?? []);
            Assert.Empty(rule["includes"]?.AsObject() ?? []);
        }
        // what else it allows is the runtime's default (compared with podman's in the kernel tests)
        Assert.True(rules.Count > 30);
    }

    [Fact]
    public void The_network_policy_admits_only_Prometheus_to_the_DaemonSets_pods_on_the_metrics_port()
    {
        var policy = Map(Document("deploy/kubernetes/tcpq-networkpolicy.yaml", "NetworkPolicy"), "spec");
        var podLabels = Map(Document("deploy/kubernetes/tcpq-daemonset.yaml", "DaemonSet"), "spec", "template", "metadata", "labels");
        foreach (var (key, value) in Map(policy, "podSelector", "matchLabels").Children)
            Assert.Equal(value.ToString(), podLabels[key].ToString());
        Assert.Equal(["Ingress"], ((YamlSequenceNode)policy["policyTypes"]).Select(n => n.ToString()));

        var rule = (YamlMappingNode)Assert.Single((YamlSequenceNode)policy["ingress"]);
        var port = (YamlMappingNode)Assert.Single((YamlSequenceNode)rule["ports"]);
        var containerPort = ((YamlSequenceNode)DaemonSetContainer()["ports"]).Cast<YamlMappingNode>().Single();
        Assert.Equal(containerPort["name"].ToString(), port["port"].ToString());
        var from = (YamlMappingNode)Assert.Single((YamlSequenceNode)rule["from"]);
        Assert.Equal("prometheus", Map(from, "podSelector", "matchLabels")["app.kubernetes.io/name"].ToString());
    }
}
