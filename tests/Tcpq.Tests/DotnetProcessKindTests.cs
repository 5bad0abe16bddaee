using Tcpq.Dotnet;

namespace Tcpq.Tests;

/// <summary>What /proc says a process is, as far as joining its runtime goes: a .NET process maps
/// libcoreclr.so; a Native AOT one has the runtime's diagnostics socket without it; any other has neither.</summary>
public sealed class DotnetProcessKindTests : IDisposable
{
    private readonly string _proc = Directory.CreateTempSubdirectory("tcpq-proc-").FullName;

    public void Dispose() => Directory.Delete(_proc, recursive: true);

    private void Process(int pid, bool coreclr, bool socket)
    {
        string dir = Path.Combine(_proc, pid.ToString());
        Directory.CreateDirectory(Path.Combine(dir, "root", "tmp"));
        File.WriteAllText(Path.Combine(dir, "comm"), "web\n");
        File.WriteAllText(Path.Combine(dir, "status"), $"Name:\tweb\nNSpid:\t{pid}\n");
        File.WriteAllText(Path.Combine(dir, "environ"), "PATH=/usr/bin\0");
        File.WriteAllText(Path.Combine(dir, "maps"), "7f0000000000-7f0000001000 r-xp 00000000 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
            + (coreclr ? "7f0000002000-7f0000003000 r-xp 00000000 08:01 2 /usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.0/libcoreclr.so\n" : ""));
        if (socket) File.WriteAllText(Path.Combine(dir, "root", "tmp", $"dotnet-diagnostic-{pid}-1234-socket"), "");
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
}
