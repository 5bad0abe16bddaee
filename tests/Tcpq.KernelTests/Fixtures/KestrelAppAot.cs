namespace Tcpq.KernelTests.Fixtures;

/// <summary>tests/Tcpq.KestrelApp compiled ahead of time (Native AOT) with EventSource support, so
/// that it has the runtime's diagnostics socket but no libcoreclr.so: published once, when its
/// sources are newer than the last build, next to the tests (kestrel-app-aot/). Only the test
/// that needs it pays the minute it takes.</summary>
public static class KestrelAppAot
{
    private static readonly Lazy<string> Built = new(Build);

    public static string Binary => Built.Value;

    private static string Build()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "kestrel-app-aot");
        string bin = Path.Combine(dir, "kestrel-app");
        string project = Project();
        var newest = Directory.EnumerateFiles(Path.GetDirectoryName(project)!).Max(File.GetLastWriteTimeUtc);
        if (File.Exists(bin) && File.GetLastWriteTimeUtc(bin) > newest) return bin;
        string output = Shell.RunWithCode("dotnet", ["publish", project, "-c", "Release", "-p:PublishAot=true", "-p:EventSourceSupport=true", "-o", dir, "--nologo"],
            out int code, timeout: TimeSpan.FromMinutes(10));
        if (code != 0 || !File.Exists(bin)) throw new InvalidOperationException($"cannot publish Tcpq.KestrelApp as Native AOT (clang and the ILCompiler package, as tcpq's own build): {output.Trim()}");
        return bin;
    }

    /// <summary>The app's project, found up from the tests' output (artifacts/bin/Tcpq.KernelTests/…).</summary>
    private static string Project()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            string p = Path.Combine(d.FullName, "tests", "Tcpq.KestrelApp", "Tcpq.KestrelApp.csproj");
            if (File.Exists(p)) return p;
        }
        throw new InvalidOperationException($"no tests/Tcpq.KestrelApp above {AppContext.BaseDirectory}");
    }
}
