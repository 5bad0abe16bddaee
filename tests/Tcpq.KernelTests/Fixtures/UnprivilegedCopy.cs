namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// The built tcpq, copied once where an unprivileged user can run it: a checkout under /root or
/// in a private temp directory (as CI's clone may be) is not readable by nobody. Removed when the
/// test process exits.
/// </summary>
public static class UnprivilegedCopy
{
    private static readonly Lazy<string> Dir = new(Create);

    /// <summary>The path of the copied tcpq binary.</summary>
    public static string Binary => Path.Combine(Dir.Value, "tcpq");

    private static string Create()
    {
        var dir = Directory.CreateTempSubdirectory("tcpq-nobody-");
        File.SetUnixFileMode(dir.FullName, (UnixFileMode)0b111_101_101);
        // The native build is one file; a framework-dependent one (TCPQ_BINARY) brings its dlls.
        File.Copy(TcpqBinary.Path, Path.Combine(dir.FullName, "tcpq"));
        var from = Path.GetDirectoryName(TcpqBinary.Path)!;
        foreach (var name in (string[])["tcpq.dll", "tcpq.runtimeconfig.json", "tcpq.deps.json", "System.CommandLine.dll", "HdrHistogram.dll"])
            if (File.Exists(Path.Combine(from, name))) File.Copy(Path.Combine(from, name), Path.Combine(dir.FullName, name));
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { dir.Delete(recursive: true); } catch (IOException) { }
        };
        return dir.FullName;
    }
}
