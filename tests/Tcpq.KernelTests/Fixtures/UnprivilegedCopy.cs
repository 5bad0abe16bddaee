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
        var from = Path.GetDirectoryName(TcpqBinary.Path)!;
        foreach (var f in Directory.GetFiles(from, "tcpq*")
                     .Concat(Directory.GetFiles(from, "System.CommandLine.dll"))
                     .Concat(Directory.GetFiles(from, "HdrHistogram.dll")))
            File.Copy(f, Path.Combine(dir.FullName, Path.GetFileName(f)));
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { dir.Delete(recursive: true); } catch (IOException) { }
        };
        return dir.FullName;
    }
}
