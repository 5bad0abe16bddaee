namespace Tcpq.Dotnet;

/// <summary><c>--dotnet auto|off|PID</c>: which .NET processes tcpq joins to their connections.
/// Auto: every process that owns a traced listener or accepts a traced connection and has a
/// diagnostics socket; PID: that one only.</summary>
public readonly record struct DotnetTarget(bool Enabled, int? Pid)
{
    public static DotnetTarget Auto => new(true, null);
    public static DotnetTarget Off => new(false, null);

    public static DotnetTarget Parse(string? text)
    {
        // auto by default: the default session (thread pool, GC, Kestrel's refusals) costs the
        // joined app within noise of nothing (bench/RESULTS.md); Kestrel's per-connection rows,
        // which cost more, come only with -e app-conn / app-request / app-close
        if (text is null || text == "auto") return Auto;
        if (text == "off") return Off;
        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid) && pid > 0)
            return new DotnetTarget(true, pid);
        throw new TcpqException(ExitCode.Usage, $"bad --dotnet '{text}': auto, off or a process id");
    }

    public override string ToString() => !Enabled ? "off" : Pid is int p ? p.ToString(System.Globalization.CultureInfo.InvariantCulture) : "auto";
}
