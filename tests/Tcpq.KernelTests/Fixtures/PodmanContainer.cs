namespace Tcpq.KernelTests.Fixtures;

/// <summary>A container of <see cref="Podman.App"/> listening on a port in a test's network
/// namespace, with labels; removed on dispose.</summary>
public sealed class PodmanContainer : IDisposable
{
    public string Name { get; }
    public string Id { get; }

    private PodmanContainer(string name, string id) => (Name, Id) = (name, id);

    public static PodmanContainer Start(NetNamespace ns, int port, IReadOnlyDictionary<string, string> labels)
    {
        var name = Podman.UniqueName("app");
        string[] args = ["run", "--detach", "--name", name, "--network", $"ns:{ns.Path}",
            .. labels.SelectMany(l => new[] { "--label", $"{l.Key}={l.Value}" }), Podman.App, port.ToString()];
        var id = Podman.Run(args);
        var c = new PodmanContainer(name, id);
        // listening once its socket is there: the kernel says, not a sleep
        for (int i = 0; i < 300 && !ns.Exec("ss", "-Hltn", $"sport = :{port}").Contains("LISTEN", StringComparison.Ordinal); i++) Thread.Sleep(50);
        return c;
    }

    /// <summary>Stops it (SIGTERM, which its server takes): its listener closes.</summary>
    public void Stop() => Podman.Run("stop", "--time", "10", Name);

    public void Dispose() => Podman.Run(false, "rm", "--force", "--time", "0", Name);
}
