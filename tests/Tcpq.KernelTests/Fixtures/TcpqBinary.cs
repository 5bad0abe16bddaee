namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// The tcpq that the kernel tests run: the build that <c>./tcpq</c> runs and that an operator
/// copies, <c>artifacts/tcpq/tcpq</c> (scripts/setup publishes it, Native AOT: one file), or the
/// file that <c>TCPQ_BINARY</c> names. A build older than src/ or bpf/ is a failure, not a silent
/// test of old code: scripts/test runs scripts/setup first.
/// </summary>
public static class TcpqBinary
{
    private static readonly Lazy<string> Found = new(Find);

    public static string Path => Found.Value;

    private static string Find()
    {
        var named = Environment.GetEnvironmentVariable("TCPQ_BINARY");
        if (!string.IsNullOrEmpty(named))
            return File.Exists(named) ? System.IO.Path.GetFullPath(named) : throw new InvalidOperationException($"TCPQ_BINARY={named}: no such file");
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (!File.Exists(System.IO.Path.Combine(dir.FullName, "tcpq.slnx"))) continue;
            var binary = System.IO.Path.Combine(dir.FullName, "artifacts", "tcpq", "tcpq");
            var stamp = System.IO.Path.Combine(dir.FullName, "artifacts", "tcpq", ".built");
            if (!File.Exists(binary) || !File.Exists(stamp))
                throw new InvalidOperationException($"{binary} is not built: run scripts/setup (scripts/test does)");
            var built = File.GetLastWriteTimeUtc(stamp);
            var newer = new[] { "src", "bpf" }.Select(d => System.IO.Path.Combine(dir.FullName, d)).Where(Directory.Exists)
                .SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories))
                .FirstOrDefault(f => File.GetLastWriteTimeUtc(f) > built);
            if (newer != null)
                throw new InvalidOperationException($"{binary} is older than {newer}: run scripts/setup (scripts/test does)");
            return binary;
        }
        throw new InvalidOperationException($"no tcpq.slnx above {AppContext.BaseDirectory}: set TCPQ_BINARY to the tcpq to test");
    }
}
