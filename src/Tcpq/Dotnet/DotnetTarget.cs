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
        // off by default: the EventPipe session costs the joined app ~19 % of its request rate at
        // saturation (bench/RESULTS.md), far over the 3 % a tracer may take without being asked
        if (text is null || text == "off") return Off;
        if (text == "auto") return Auto;
        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid) && pid > 0)
            return new DotnetTarget(true, pid);
        throw new TcpqException(ExitCode.Usage, $"bad --dotnet '{text}': auto, off or a process id");
    }

    public override string ToString() => !Enabled ? "off" : Pid is int p ? p.ToString(System.Globalization.CultureInfo.InvariantCulture) : "auto";
}
