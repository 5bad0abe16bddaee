namespace Tcpq.KernelTests.Fixtures;

/// <summary>Servers/uring_server.c compiled once per test run against liburing (scripts/setup --test
/// installs liburing-dev): the io_uring server of the application's tests and of the io_uring
/// accept tests.</summary>
public static class UringServerBuild
{
    private static readonly Lazy<string> Built = new(Build);

    public static string Path => Built.Value;

    private static string Build()
    {
        string bin = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"tcpq-uring-{Environment.ProcessId}");
        string output = Shell.RunWithCode("cc", ["-O2", "-Wall", "-Werror", "-o", bin, System.IO.Path.Combine(AppContext.BaseDirectory, "Servers", "uring_server.c"), "-luring"], out int code);
        if (code != 0) throw new InvalidOperationException($"cannot build Servers/uring_server.c: kernel tests need cc and liburing-dev (scripts/setup --test): {output.Trim()}");
        return bin;
    }
}
