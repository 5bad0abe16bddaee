using System.Diagnostics;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// Debian's podman, as the tests use it: with a containers.conf of their own (through
/// CONTAINERS_CONF, never /etc): runc, since crun refuses a hybrid cgroup host; ulimits under the
/// hard limit; the cgroupfs manager and file events, since there is no systemd. The images are
/// built once per test run and shared: tcpq's own by scripts/image, and a test app FROM scratch
/// holding Servers/accept_server.c linked statically.
/// </summary>
public static class Podman
{
    public const string TcpqImage = "localhost/tcpq:kernel-tests";
    public const string AppImage = "localhost/tcpq-test-app:kernel-tests";

    private static readonly Lazy<string> Conf = new(WriteConf);

    /// <summary>The tests' own containers.conf (for CONTAINERS_CONF), written once per test run.</summary>
    internal static string ContainersConf => Conf.Value;
    private static readonly Lazy<string> Server = new(BuildAcceptServer);
    private static readonly Lazy<string> BuiltTcpqImage = new(() =>
    {
        Run(true, [], "bash", [RepoFile("scripts/image"), "--tag", TcpqImage, "--no-latest"]);
        return TcpqImage;
    });
    private static readonly Lazy<string> BuiltAppImage = new(BuildAppImage);
    private static int _count;

    /// <summary>The static accept_server on this machine (a host process can run it too).</summary>
    public static string AcceptServer => Server.Value;

    /// <summary>tcpq's image, built from the tested binary by scripts/image.</summary>
    public static string Tcpq => BuiltTcpqImage.Value;

    public static string App => BuiltAppImage.Value;

    public static string UniqueName(string what) => $"tcpqt-{what}-{Environment.ProcessId}-{Interlocked.Increment(ref _count)}";

    /// <summary>podman with the tests' containers.conf; a failure carries its stderr.</summary>
    public static string Run(params string[] args) => Run(true, args);

    public static string Run(bool check, params string[] args) => Run(check, [], "podman", args);

    /// <summary>podman in <paramref name="directory"/>: kube play looks there for a folder named
    /// after each image (to build it from), so not in a directory that has one.</summary>
    public static string RunIn(string directory, params string[] args) => Run(true, [], "podman", args, directory);

    private static string Run(bool check, Dictionary<string, string> env, string file, string[] args, string? directory = null)
    {
        var psi = Start(file, args);
        if (directory is not null) psi.WorkingDirectory = directory;
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            p.Kill(true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 5 minutes");
        }
        if (check && p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result.Trim()}");
        // unchecked, what it said on stderr too (a test may look for a message)
        return (check ? stdout.Result : stdout.Result + stderr.Result).Trim();
    }

    /// <summary>A process's start info with the tests' containers.conf in its environment.</summary>
    public static ProcessStartInfo Start(string file, params string[] args)
    {
        Require();
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["CONTAINERS_CONF"] = Conf.Value;
        return psi;
    }

    private static void Require()
    {
        Requirements.Check();
        foreach (var tool in new[] { "podman", "runc", "catatonit" })
            if (!Environment.GetEnvironmentVariable("PATH")!.Split(':').Append("/usr/libexec/podman").Any(d => File.Exists(Path.Combine(d, tool))))
                throw new InvalidOperationException($"container tests need {tool} (apt-get install podman runc catatonit; scripts/setup --test does)");
    }

    private static string WriteConf()
    {
        var dir = Directory.CreateTempSubdirectory("tcpq-podman-");
        var path = Path.Combine(dir.FullName, "containers.conf");
        File.WriteAllText(path, """
            [containers]
            default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

            [engine]
            runtime = "runc"
            cgroup_manager = "cgroupfs"
            events_logger = "file"
            """);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { dir.Delete(recursive: true); } catch (IOException) { }
        };
        return path;
    }

    private static string BuildAcceptServer()
    {
        var dir = Directory.CreateTempSubdirectory("tcpq-app-");
        var bin = Path.Combine(dir.FullName, "accept_server");
        Shell.RunWithCode("cc", ["-O2", "-Wall", "-static", "-o", bin, Path.Combine(AppContext.BaseDirectory, "Servers", "accept_server.c")], out int code);
        if (code != 0) throw new InvalidOperationException("cannot build Servers/accept_server.c statically: kernel tests need cc and libc6-dev");
        return bin;
    }

    private static string BuildAppImage()
    {
        var context = Path.GetDirectoryName(AcceptServer)!;
        File.WriteAllText(Path.Combine(context, "Containerfile"), "FROM scratch\nCOPY accept_server /accept_server\nENTRYPOINT [\"/accept_server\"]\n");
        Run("build", "--quiet", "--timestamp", "0", "--tag", AppImage, context);
        return AppImage;
    }

    public static string RepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "tcpq.slnx"))) return Path.Combine(dir.FullName, relative);
        throw new InvalidOperationException("no tcpq.slnx above the test binaries");
    }
}
