using System.Diagnostics;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>podman's Docker-compatible API (<c>podman system service</c>) on a socket of the
/// test's own, stopped on dispose.</summary>
public sealed class PodmanService : IDisposable
{
    private readonly Process _process;

    public string Socket { get; }

    private PodmanService(Process process, string socket) => (_process, Socket) = (process, socket);

    public static PodmanService Start()
    {
        var socket = Path.Combine(Directory.CreateTempSubdirectory("tcpq-podman-api-").FullName, "podman.sock");
        var p = Process.Start(Podman.Start("podman", "system", "service", "--time=0", $"unix://{socket}"))!;
        p.StandardOutput.ReadToEndAsync();
        p.StandardError.ReadToEndAsync();
        var service = new PodmanService(p, socket);
        for (int i = 0; i < 300 && !File.Exists(socket); i++)
        {
            if (p.HasExited) break;
            Thread.Sleep(100);
        }
        if (!File.Exists(socket))
        {
            service.Dispose();
            throw new InvalidOperationException($"podman system service did not make {socket}");
        }
        return service;
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(10_000); } } catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
