using System.Net;
using System.Text.Json.Nodes;
using Tcpq.KernelTests.Fixtures;
using YamlDotNet.RepresentationModel;

namespace Tcpq.KernelTests;

/// <summary>
/// The DaemonSet's seccomp profile (<c>seccompProfile: {type: Localhost}</c>, the file shipped in
/// deploy/kubernetes/), given to a real container (runc, through podman) the way a kubelet gives
/// it: with it and the three counting capabilities, tcpq counts a connection of the test's
/// namespace; under the runtime's default profile, which it extends, the load is refused.
/// </summary>
public class SeccompProfileTests
{
    private static string RepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "tcpq.slnx"))) return Path.Combine(dir.FullName, relative);
        throw new InvalidOperationException("no tcpq.slnx above the test binaries");
    }

    /// <summary>The profile the DaemonSet names, as a path in deploy/kubernetes/ (a kubelet finds it
    /// under its seccomp directory, where docs/deploy.md says to copy it).</summary>
    private static string DaemonSetProfile()
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(RepoFile("deploy/kubernetes/tcpq-daemonset.yaml"))));
        var ds = yaml.Documents.Select(d => (YamlMappingNode)d.RootNode).Single(m => m["kind"].ToString() == "DaemonSet");
        var pod = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)ds["spec"])["template"])["spec"];
        var container = (YamlMappingNode)((YamlSequenceNode)pod["containers"]).Single();
        var seccomp = (YamlMappingNode)((YamlMappingNode)container["securityContext"])["seccompProfile"];
        Assert.Equal("Localhost", seccomp["type"].ToString());
        return RepoFile(Path.Combine("deploy", "kubernetes", seccomp["localhostProfile"].ToString()));
    }

    /// <summary>The DaemonSet's container, as podman options: uid 0, every capability dropped but the
    /// three counting needs, no privilege escalation, a read-only root, the host's cgroup hierarchy
    /// and tracefs mounted read-only.</summary>
    private static string[] AsTheDaemonSet(string profile) =>
    [
        "--user", "0", "--cap-drop", "ALL", "--cap-add", "BPF,PERFMON,NET_ADMIN",
        "--security-opt", $"seccomp={profile}", "--security-opt", "no-new-privileges", "--read-only",
        "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro", "-v", "/sys/kernel/tracing:/sys/kernel/tracing:ro",
    ];

    [Fact]
    public void Under_the_shipped_profile_with_three_capabilities_it_counts()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 8);
        using var container = HostRootContainer.Start(ns, AsTheDaemonSet(DaemonSetProfile()),
            "/usr/local/bin/tcpq", "serve", "--listen", "127.0.0.1:9477", "--dotnet", "off");

        string Scrape(string path) => Shell.RunWithCode("ip", ["netns", "exec", ns.Name, "curl", "-s", "-m", "10", $"http://127.0.0.1:9477{path}"], out _);
        string ready = "";
        for (int i = 0; i < 40 && ready != "OK\n"; i++, Thread.Sleep(250)) ready = Scrape("/-/ready");
        Assert.True(ready == "OK\n", container.Logs());
        // the filter is on: tcpq is PID 1 of the container, under seccomp
        Assert.Contains("Seccomp:\t2", container.Exec("cat", "/proc/1/status").Output);

        using var client = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port));
        using var accepted = ns.Run(() => { listener.Blocking = true; return listener.Accept(); });
        double accepts = 0;
        for (int i = 0; i < 40 && accepts < 1; i++, Thread.Sleep(250))
            accepts = TcpqServe.Sum(Scrape("/metrics"), "tcpq_accepts_total", $"server_port=\"{port}\"", $"netns=\"{ns.Inode}\"");
        Assert.Equal(1, accepts);
    }

    /// <summary>containers-common's default profile: what podman and CRI-O apply as RuntimeDefault.</summary>
    private static string RuntimeDefault()
    {
        const string path = "/usr/share/containers/seccomp.json";
        Assert.True(File.Exists(path), $"{path} (podman's golang-github-containers-common) is missing");
        return path;
    }

    [Fact]
    public void The_shipped_profile_is_the_runtime_default_with_bpf_and_perf_event_open_allowed()
    {
        static string Without(JsonNode profile, Func<JsonNode, bool> dropRule)
        {
            var rules = profile["syscalls"]!.AsArray();
            foreach (var rule in rules.Where(r => dropRule(r!)).ToList()) rules.Remove(rule);
            foreach (var rule in rules)
            {
                var names = rule!["names"]!.AsArray();
                foreach (var n in names.Where(n => n!.GetValue<string>() is "bpf" or "perf_event_open").ToList()) names.Remove(n);
            }
            return profile.ToJsonString();
        }
        var shipped = JsonNode.Parse(File.ReadAllText(DaemonSetProfile()))!;
        var runtime = JsonNode.Parse(File.ReadAllText(RuntimeDefault()))!;
        // the shipped file's one addition: a rule allowing both, whatever the capabilities
        static bool TcpqRule(JsonNode r) => r["action"]!.GetValue<string>() == "SCMP_ACT_ALLOW"
            && r["names"]!.AsArray().Select(n => n!.GetValue<string>()).Order().SequenceEqual(["bpf", "perf_event_open"])
            && (r["includes"]?.AsObject().Count ?? 0) == 0;
        Assert.Single(shipped["syscalls"]!.AsArray(), r => TcpqRule(r!));
        Assert.Equal(Without(runtime, _ => false), Without(shipped, TcpqRule));
    }

    [Fact]
    public void Under_the_runtime_default_profile_the_load_is_refused()
    {
        string runtimeDefault = RuntimeDefault();
        using var ns = NetNamespace.Create();
        var (code, output) = HostRootContainer.RunToEnd(ns, AsTheDaemonSet(runtimeDefault),
            "/usr/local/bin/tcpq", "serve", "--listen", "127.0.0.1:9477", "--dotnet", "off", "--duration", "1");
        Assert.True(code == 4, output);
        Assert.Contains("load BPF programs: permission denied", output);
    }
}
