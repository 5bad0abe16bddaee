using Tcpq.Bpf;
using Tcpq.Dotnet;
using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Commands;

/// <summary>Everything <c>tcpq trace</c> was asked for, checked as a whole by
/// <see cref="Validate"/> before anything touches the kernel or the file system.</summary>
public sealed record TraceOptions(
    IReadOnlyList<ushort> Ports,
    EventFormat Format,
    double? DurationSeconds,
    string? OutputPath,
    IReadOnlySet<EventKind>? Kinds,
    bool Verbose = false,
    int RingBufferKb = TraceConfig.DefaultRingBufferKb,
    TraceBackend Backend = TraceBackend.Ebpf,
    TimeSpan? Interval = null)
{
    /// <summary>--summary: follow connections too and print a summary when tracing ends.</summary>
    public SummaryFormat? Summary { get; init; }

    /// <summary>--dotnet: which .NET processes to join over their diagnostics socket (eBPF backend).</summary>
    public DotnetTarget Dotnet { get; init; } = DotnetTarget.Auto;

    /// <summary>Where JSON rows' container and pod names come from (--workloads, --runtime-socket, --kubelet-logs).</summary>
    public Workloads.WorkloadOptions Workloads { get; init; } = Tcpq.Workloads.WorkloadOptions.Default;

    /// <summary>--otlp-endpoint (or the OTEL_EXPORTER_OTLP_* variables): each connection becomes a
    /// trace, sent there. Null: no spans.</summary>
    public OtlpTarget? Otlp { get; init; }

    /// <summary>Options the user gave that only one backend uses (--verbose, --ring-buffer-kb for
    /// eBPF; --interval for diag), by their flag.</summary>
    public IReadOnlySet<string> Given { get; init; } = new HashSet<string>();

    /// <summary>Throws a usage error (or <see cref="ExitCode.BadPort"/>) for the first value that
    /// cannot work: nothing has been opened or loaded yet.</summary>
    public TraceOptions Validate()
    {
        TraceConfig.RequireFilterablePorts(Ports, "traced");
        if (DurationSeconds is double d && !(d > 0 && double.IsFinite(d)))
            throw new TcpqException(ExitCode.Usage, $"bad --duration '{d}': a number of seconds above 0");
        if (!TraceConfig.IsValidRingBufferKb(RingBufferKb))
            throw new TcpqException(ExitCode.Usage, $"bad --ring-buffer-kb {RingBufferKb}: {TraceConfig.RingBufferRange}");
        string[] notHere = Backend == TraceBackend.Diag ? ["--verbose", "--ring-buffer-kb"] : ["--interval"];
        foreach (var flag in notHere)
            if (Given.Contains(flag))
                throw new TcpqException(ExitCode.Usage, $"{flag} does not apply to --backend {(Backend == TraceBackend.Diag ? "diag" : "ebpf")}");
        if (Given.Contains("--otlp-protocol") && Otlp is null)
            throw new TcpqException(ExitCode.Usage, "--otlp-protocol needs --otlp-endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT)");
        if (Backend == TraceBackend.Diag && Dotnet.Enabled && Given.Contains("--dotnet"))
            throw new TcpqException(ExitCode.Usage, "--dotnet does not apply to --backend diag (it joins processes from accept rows; off is accepted)");
        return this;
    }
}
