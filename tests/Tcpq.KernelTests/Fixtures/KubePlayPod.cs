using System.Net.Sockets;
using System.Text;
using YamlDotNet.RepresentationModel;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// deploy/kubernetes/tcpq-daemonset.yaml's pod template as a Pod, run by <c>podman kube play</c>
/// (which runs Pods, not DaemonSets), with the image that scripts/image built. What podman 4.3
/// needs changed, and only that: the seccomp profile as the annotation it reads (the template
/// says <c>seccompProfile</c>), found in deploy/kubernetes/ (<c>--seccomp-profile-root</c>); no <c>ports</c> (podman publishes every containerPort on the
/// host, Kubernetes does not; the probes name the port by number instead); the kubelet log
/// directory pointed at the test's own. Its network namespace is its own (<c>--network none</c>):
/// it is scraped from inside, on 127.0.0.1.
/// </summary>
public sealed class KubePlayPod : IDisposable
{
    private readonly string _file;

    public string Name { get; }

    private KubePlayPod(string name, string file) => (Name, _file) = (name, file);

    public static KubePlayPod Play(string containerLogs)
    {
        var name = Podman.UniqueName("pod");
        var yaml = PodOf(File.ReadAllText(Podman.RepoFile("deploy/kubernetes/tcpq-daemonset.yaml")), name, Podman.Tcpq, containerLogs);
        var file = Path.Combine(Directory.CreateTempSubdirectory("tcpq-kube-").FullName, "pod.yaml");
        File.WriteAllText(file, yaml);
        var pod = new KubePlayPod(name, file);
        // the Localhost seccomp profile is found where the repository ships it, as kubelet would find
        // it in /var/lib/kubelet/seccomp after docs/deploy.md's copy
        try { Podman.RunIn(Path.GetDirectoryName(file)!, "kube", "play", "--network", "none", "--seccomp-profile-root", Podman.RepoFile("deploy/kubernetes"), file); }
        catch
        {
            pod.Dispose();
            throw;
        }
        return pod;
    }

    /// <summary>The Pod made of the DaemonSet's template (see the class comment for what changes).</summary>
    public static string PodOf(string daemonSetYaml, string name, string image, string containerLogs)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(daemonSetYaml));
        var ds = stream.Documents.Select(d => (YamlMappingNode)d.RootNode).Single(m => m["kind"].ToString() == "DaemonSet");
        var template = (YamlMappingNode)((YamlMappingNode)ds["spec"])["template"];
        var spec = (YamlMappingNode)template["spec"];
        var container = (YamlMappingNode)((YamlSequenceNode)spec["containers"]).Single();
        container.Children[new YamlScalarNode("image")] = new YamlScalarNode(image);

        var ports = container.Children.TryGetValue(new YamlScalarNode("ports"), out var p)
            ? ((YamlSequenceNode)p).Cast<YamlMappingNode>().ToDictionary(m => m["name"].ToString(), m => m["containerPort"].ToString())
            : [];
        container.Children.Remove(new YamlScalarNode("ports"));
        foreach (var probe in new[] { "readinessProbe", "livenessProbe" })
            if (container.Children.TryGetValue(new YamlScalarNode(probe), out var node) && ((YamlMappingNode)node).Children.TryGetValue(new YamlScalarNode("httpGet"), out var get)
                && ports.TryGetValue(((YamlMappingNode)get)["port"].ToString(), out var number))
                ((YamlMappingNode)get).Children[new YamlScalarNode("port")] = new YamlScalarNode(number) { Style = YamlDotNet.Core.ScalarStyle.Plain };

        var seccomp = ((YamlMappingNode)((YamlMappingNode)container["securityContext"])["seccompProfile"]);
        string annotation = seccomp["type"].ToString() switch
        {
            "Unconfined" => "unconfined",
            "RuntimeDefault" => "runtime/default",
            "Localhost" => "localhost/" + seccomp["localhostProfile"],
            var t => throw new InvalidOperationException($"seccompProfile type {t}: no podman annotation for it"),
        };

        foreach (var volume in ((YamlSequenceNode)spec["volumes"]).Cast<YamlMappingNode>())
            if (volume.Children.TryGetValue(new YamlScalarNode("hostPath"), out var host) && ((YamlMappingNode)host)["path"].ToString() == "/var/log/containers")
                ((YamlMappingNode)host).Children[new YamlScalarNode("path")] = new YamlScalarNode(containerLogs);

        var metadata = new YamlMappingNode
        {
            { "name", name },
            { "labels", ((YamlMappingNode)template["metadata"])["labels"] },
            { "annotations", new YamlMappingNode { { $"container.seccomp.security.alpha.kubernetes.io/{container["name"]}", annotation } } },
        };
        var pod = new YamlMappingNode { { "apiVersion", "v1" }, { "kind", "Pod" }, { "metadata", metadata }, { "spec", spec } };
        var text = new StringWriter();
        new YamlStream(new YamlDocument(pod)).Save(text, assignAnchors: false);
        return text.ToString();
    }

    /// <summary>GET /metrics from inside the pod's network namespace, or null while nothing answers.</summary>
    public string? Scrape()
    {
        var infra = Podman.Run("pod", "inspect", Name, "--format", "{{.InfraContainerID}}");
        var pid = Podman.Run("inspect", "--format", "{{.State.Pid}}", infra);
        Socket? socket = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var ns = File.OpenHandle($"/proc/{pid}/ns/net");
                if (Posix.SetNs((int)ns.DangerousGetHandle(), Posix.CLONE_NEWNET) != 0) return;
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10_000 };
                try { s.Connect("127.0.0.1", 9477); socket = s; }
                catch (SocketException) { s.Dispose(); }
            }
            catch (IOException) { }
        });
        thread.Start();
        thread.Join();
        if (socket is null) return null;
        using (socket)
        {
            socket.Send("GET /metrics HTTP/1.0\r\nHost: 127.0.0.1:9477\r\n\r\n"u8);
            var response = new MemoryStream();
            var buffer = new byte[65536];
            for (int n; (n = socket.Receive(buffer)) > 0;) response.Write(buffer, 0, n);
            var text = Encoding.UTF8.GetString(response.ToArray());
            int body = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            return text.StartsWith("HTTP/1.", StringComparison.Ordinal) && text.Contains(" 200 ") && body >= 0 ? text[(body + 4)..] : null;
        }
    }

    /// <summary>What tcpq in the pod said (its stderr and stdout).</summary>
    public string Logs() => Podman.Run(false, "logs", $"{Name}-tcpq");

    public void Dispose()
    {
        Podman.Run(false, "pod", "rm", "--force", Name);
        try { Directory.Delete(Path.GetDirectoryName(_file)!, recursive: true); } catch (IOException) { }
    }
}
