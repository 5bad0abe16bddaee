using Tcpq.Dotnet;

namespace Tcpq.Tests;

/// <summary>What /proc says a process is, as far as joining its runtime goes: a .NET process maps
/// libcoreclr.so; a Native AOT one has the runtime's diagnostics socket without it; any other has neither.</summary>
public sealed class DotnetProcessKindTests : IDisposable
{
    private readonly string _proc = Directory.CreateTempSubdirectory("tcpq-proc-").FullName;

    public void Dispose() => Directory.Delete(_proc, recursive: true);

    /// <summary>The machine booted an hour ago; the process started 1234 clock ticks (12.34 s) after.</summary>
    private static readonly DateTime Boot = DateTime.UnixEpoch.AddSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3600); // whole seconds, as btime
    private static readonly DateTime Started = Boot.AddSeconds(12.34);

    private void Process(int pid, bool coreclr, bool socket)
    {
        string dir = Path.Combine(_proc, pid.ToString());
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(_proc, "stat"), $"cpu  1 2 3 4\nbtime {(long)(Boot - DateTime.UnixEpoch).TotalSeconds}\nprocesses 5\n");
        File.WriteAllText(Path.Combine(dir, "stat"), $"{pid} (web) S 1 {pid} {pid} 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 12 0 1234 123456789 2000 18446744073709551615\n");
        Directory.CreateDirectory(Path.Combine(dir, "root", "tmp"));
        File.WriteAllText(Path.Combine(dir, "comm"), "web\n");
        File.WriteAllText(Path.Combine(dir, "status"), $"Name:\tweb\nNSpid:\t{pid}\n");
        File.WriteAllText(Path.Combine(dir, "environ"), "PATH=/usr/bin\0");
        File.WriteAllText(Path.Combine(dir, "maps"), "7f0000000000-7f0000001000 r-xp 00000000 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
            + (coreclr ? "7f0000002000-7f0000003000 r-xp 00000000 08:01 2 /usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.0/libcoreclr.so\n" : ""));
        if (socket) Socket(pid, "1234", Started.AddSeconds(0.5));
    }

    private string Socket(int pid, string key, DateTime made)
    {
        string path = Path.Combine(_proc, pid.ToString(), "root", "tmp", $"dotnet-diagnostic-{pid}-{key}-socket");
        File.WriteAllText(path, "");
        File.SetLastWriteTimeUtc(path, made);
        return path;
    }

    [Theory]
    [InlineData(true, true, true, false)]    // a .NET app
    [InlineData(true, false, true, false)]   // a .NET app started with DOTNET_EnableDiagnostics=0
    [InlineData(false, true, false, true)]   // Native AOT, built with EventSource support
    [InlineData(false, false, false, false)] // nginx, or Native AOT without it: nothing tells them apart
    public void Is_told_by_its_runtime_library_and_its_diagnostics_socket(bool coreclr, bool socket, bool dotnet, bool aot)
    {
        Process(812, coreclr, socket);
        var p = DotnetProcess.Read(812, _proc)!;
        Assert.Equal((dotnet, aot), (p.IsDotnet, p.IsNativeAot));
        Assert.Equal(socket, p.SocketPath is not null);
    }

    [Fact]
    public void A_socket_left_by_an_earlier_process_with_the_same_pid_is_not_its_socket()
    {
        // killed processes leave their sockets in /tmp, and pids come round again: one that had pid
        // 812 made its socket 2 s before this one started, with DOTNET_EnableDiagnostics=0
        Process(812, coreclr: true, socket: false);
        Socket(812, "999", Started.AddSeconds(-2));
        Assert.Null(DotnetProcess.Read(812, _proc)!.SocketPath);

        // its own is found beside the old one; made within the boot time's rounding of its start
        // counts as its own, whatever its key (in a pid namespace without its own /proc the runtime
        // reads another process's start time)
        string own = Socket(812, "77", Started.AddSeconds(-0.5));
        Assert.Equal(own, DotnetProcess.Read(812, _proc)!.SocketPath);
    }
}
