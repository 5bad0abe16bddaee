using System.CommandLine;
using Tcpq.Workloads;

namespace Tcpq.Commands;

/// <summary>The flags that say where listeners' container and pod names come from, the same for
/// serve, top and listeners: added to a verb, then read into checked <see cref="WorkloadOptions"/>.</summary>
public sealed class WorkloadFlags
{
    public enum Mode { Auto, Off }

    private readonly Option<Mode> _mode = EnumOption.Create<Mode>("--workloads", "",
        "auto (default): name each listener's container and pod, from its cgroup and the runtime's API or kubelet's log links; off");
    private readonly Option<string?> _socket = new("--runtime-socket")
    {
        HelpName = "PATH",
        Description = $"The Docker-compatible API (docker, podman) to name containers by; default: {string.Join(" or ", RuntimeApiClient.DefaultSockets)}, where present",
    };
    private readonly Option<string?> _logs = new("--kubelet-logs")
    {
        HelpName = "DIR",
        Description = $"kubelet's links POD_NAMESPACE_CONTAINER-ID.log, to name pods without any API (default {KubeletLogLinks.DefaultDirectory}, where present)",
    };

    public void AddTo(Command command)
    {
        command.Add(_mode);
        command.Add(_socket);
        command.Add(_logs);
    }

    public WorkloadOptions Read(ParseResult parse)
    {
        string? socket = parse.GetValue(_socket), logs = parse.GetValue(_logs);
        if (parse.GetValue(_mode) == Mode.Off)
        {
            if (socket is not null || logs is not null)
                throw new TcpqException(ExitCode.Usage, "--runtime-socket and --kubelet-logs name workloads: not with --workloads off");
            return WorkloadOptions.Off;
        }
        return Check(socket, logs);
    }

    /// <summary>A path given must be there now: a typo is said at once, not as labels that never come.</summary>
    public static WorkloadOptions Check(string? socket, string? logs)
    {
        // File.Exists: anything but a directory, a socket too; whether it answers is said when it is asked
        if (socket is not null && !File.Exists(socket))
            throw new TcpqException(ExitCode.Usage, $"bad --runtime-socket '{socket}': no such socket (docker: /var/run/docker.sock; podman: /run/podman/podman.sock, served by `podman system service`)");
        if (logs is not null && !Directory.Exists(logs))
            throw new TcpqException(ExitCode.Usage, $"bad --kubelet-logs '{logs}': no such directory");
        return new WorkloadOptions(true, socket, logs ?? KubeletLogLinks.DefaultDirectory);
    }
}
