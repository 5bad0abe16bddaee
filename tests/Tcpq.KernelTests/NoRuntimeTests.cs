using System.Runtime.InteropServices;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>
/// The published tcpq is one native file: it runs on a server with no .NET installed. Shown in a
/// private mount namespace where every place a .NET runtime could be found is an empty tmpfs;
/// a framework-dependent build (the apphost next to this test assembly) fails there, which shows
/// the runtime really is out of sight.
/// </summary>
public class NoRuntimeTests
{
    /// <summary>The folders a .NET host looks in: the one this test runs on, the usual install
    /// places, ~/.dotnet and /etc/dotnet (install_location); those that exist.</summary>
    private static IEnumerable<string> DotnetPlaces()
    {
        string running = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return new[] { running, "/usr/share/dotnet", "/usr/lib/dotnet", "/usr/local/share/dotnet", "/opt/dotnet",
                       Path.Combine(home, ".dotnet"), "/etc/dotnet" }
            .Where(Directory.Exists).Select(p => new DirectoryInfo(p).ResolveLinkTarget(true)?.FullName ?? p).Distinct();
    }

    private static string WithoutDotnet(string command)
    {
        var hide = string.Concat(DotnetPlaces().Select(p => $"mount -t tmpfs none '{p}' && "));
        return $"{hide}exec env -u DOTNET_ROOT -u DOTNET_ROOT_X64 {command}";
    }

    private static (int Code, string Output) RunWithoutDotnet(string command)
    {
        Requirements.Check();
        var output = Shell.RunWithCode("unshare", ["-m", "sh", "-c", WithoutDotnet(command)], out int code, timeout: TimeSpan.FromSeconds(30));
        return (code, output);
    }

    [Fact]
    public void The_hidden_runtime_is_really_hidden()
    {
        var frameworkDependent = Path.Combine(AppContext.BaseDirectory, "tcpq");
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "tcpq.dll")), "the framework-dependent tcpq is built next to the tests");
        var (code, output) = RunWithoutDotnet($"{frameworkDependent} listeners");
        Assert.True(code != 0, output);
        Assert.Contains(".NET", output);
    }

    [Fact]
    public void Listeners_runs_with_no_dotnet_runtime_visible()
    {
        var (code, output) = RunWithoutDotnet($"{TcpqTrace.Binary} listeners --format csv");
        Assert.True(code == 0, output);
        Assert.StartsWith("time,", output);
    }

    [Fact]
    public void Trace_and_report_run_with_no_dotnet_runtime_visible()
    {
        var file = Path.Combine(Path.GetTempPath(), $"tcpq-noruntime-{Guid.NewGuid():N}.csv");
        try
        {
            var (code, output) = RunWithoutDotnet($"{TcpqTrace.Binary} trace -p {Ports.Next()} -d 0.3 -o {file}");
            Assert.True(code == 0, output);
            Assert.Contains("tcpq: tracing", output);
            (code, output) = RunWithoutDotnet($"{TcpqTrace.Binary} report {file} --format json");
            Assert.True(code == 0, output);
            Assert.Contains("\"events\": 0", output);
        }
        finally { File.Delete(file); }
    }
}
