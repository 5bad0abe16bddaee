namespace Tcpq.Connections.Diagnosis;

/// <summary>Kestrel refused connections the kernel had already handed over: its
/// MaxConcurrentConnections was reached. Needs the app side (--dotnet).</summary>
public sealed class KestrelConnectionLimitRule : IDiagnosisRule
{
    public string Name => "kestrel-connection-limit";

    public Finding? Check(PortSummary p, DiagnosisContext c)
    {
        if (p.Dotnet is not { Rejected: > 0 } a) return null;
        long of = Math.Max(a.Joined, p.Accepted); // joined: with app-conn rows; accepted: the kernel's count, always there
        var severity = a.Rejected * 10 >= of ? Severity.Critical : Severity.Warning;
        return new Finding(Name, severity, p.Label,
            $"Kestrel in {a.Name} refused {a.Rejected} of {of} connections on {p.Label}: MaxConcurrentConnections was reached. " +
            "The kernel had completed and accepted each; Kestrel closed it at once, without a response. " +
            "Raise or remove KestrelServerLimits.MaxConcurrentConnections (open keep-alive connections count against it, see KeepAliveTimeout) or add instances.");
    }
}
