using Tcpq.Events;
using System.Globalization;
using System.Net;
using OpenTelemetry.Exporter;
using Tcpq.Aggregates;
using Tcpq.Bpf;

namespace Tcpq.Commands;

/// <summary>Everything <c>tcpq serve</c> was asked for, checked by <see cref="Validate"/> before
/// anything touches the kernel or opens a socket.</summary>
public sealed record ServeOptions(
    IPEndPoint Listen,
    IReadOnlyList<ushort> Ports,
    TraceBackend Backend = TraceBackend.Ebpf,
    Uri? OtlpEndpoint = null,
    OtlpExportProtocol OtlpProtocol = OtlpExportProtocol.HttpProtobuf,
    TimeSpan? OtlpInterval = null,
    TimeSpan? Interval = null,
    int MaxListeners = EventAggregator.DefaultMaxListeners,
    int RingBufferKb = TraceConfig.DefaultRingBufferKb,
    double? DurationSeconds = null,
    bool Verbose = false,
    ServeOptions.EbpfSource Source = ServeOptions.EbpfSource.Kernel)
{
    /// <summary>Where the eBPF backend counts: in the kernel's per-CPU maps (no record per
    /// connection), or here, from the ring buffer's events (as trace reads them).</summary>
    public enum EbpfSource { Kernel, Events }

    public const int DefaultPort = 9477;
    public static readonly TimeSpan DefaultOtlpInterval = TimeSpan.FromSeconds(15);

    /// <summary>OTEL_EXPORTER_OTLP_HEADERS (or _METRICS_HEADERS): sent with every push.</summary>
    public string? OtlpHeaders { get; init; }

    /// <summary>--dotnet: which .NET processes to join for the tcpq_dotnet_* metrics.</summary>
    public Dotnet.DotnetTarget Dotnet { get; init; } = Tcpq.Dotnet.DotnetTarget.Auto;

    /// <summary>--web-config: TLS and basic auth for the endpoint (exporter-toolkit's format), or null.</summary>
    public string? WebConfigPath { get; init; }

    /// <summary>Where listeners' container and pod names come from (--workloads, --runtime-socket, --kubelet-logs).</summary>
    public Workloads.WorkloadOptions Workloads { get; init; } = Tcpq.Workloads.WorkloadOptions.Default;

    /// <summary>--latency-sample: counting mode's accept hooks (--source kernel).</summary>
    public LatencySampling LatencySample { get; init; } = LatencySampling.Default;

    /// <summary>--spans-slower-than: counting mode's connections slower than this (its handshake,
    /// or its sampled queue wait), dropped or retried become traces; null: no spans.</summary>
    public TimeSpan? SpansSlowerThan { get; init; }

    /// <summary>--spans-max-rate: new traces a second at most (the rest: tcpq_spans_dropped_total).</summary>
    public int SpansMaxRate { get; init; } = DefaultSpansMaxRate;
    /// <summary>Where serve's traces go (--spans-slower-than): the OTLP endpoint of the metrics, or
    /// the OTEL_EXPORTER_OTLP_TRACES_* variables, on the traces path.</summary>
    public OtlpTarget? SpansTarget { get; init; }

    public const int DefaultSpansMaxRate = 100;

    /// <summary>Flags the user gave that only one backend uses.</summary>
    public IReadOnlySet<string> Given { get; init; } = new HashSet<string>();

    public ServeOptions Validate()
    {
        TraceConfig.RequireFilterablePorts(Ports, "counted");
        if (MaxListeners is < 1 or > 65536)
            throw new TcpqException(ExitCode.Usage, $"bad --max-listeners {MaxListeners}: 1 to 65536 (the rest are merged into server_address=\"other\")");
        if (!TraceConfig.IsValidRingBufferKb(RingBufferKb))
            throw new TcpqException(ExitCode.Usage, $"bad --ring-buffer-kb {RingBufferKb}: {TraceConfig.RingBufferRange}");
        if (DurationSeconds is double d && !(d > 0 && double.IsFinite(d)))
            throw new TcpqException(ExitCode.Usage, $"bad --duration '{d}': a number of seconds above 0");
        if (OtlpInterval is TimeSpan i && (i < TimeSpan.FromSeconds(1) || i > TimeSpan.FromHours(1)))
            throw new TcpqException(ExitCode.Usage, $"bad --otlp-interval '{i.TotalSeconds}': 1 to 3600 seconds");
        if (OtlpInterval is not null && OtlpEndpoint is null)
            throw new TcpqException(ExitCode.Usage, "--otlp-interval needs --otlp-endpoint");
        if (Given.Contains("--otlp-protocol") && OtlpEndpoint is null)
            throw new TcpqException(ExitCode.Usage, "--otlp-protocol needs --otlp-endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT)");
        string[] notHere = Backend == TraceBackend.Diag ? ["--verbose", "--ring-buffer-kb", "--source", "--latency-sample"] : ["--interval"];
        foreach (var flag in notHere)
            if (Given.Contains(flag))
                throw new TcpqException(ExitCode.Usage, $"{flag} does not apply to --backend {(Backend == TraceBackend.Diag ? "diag" : "ebpf")}");
        if (Backend == TraceBackend.Ebpf && Source == EbpfSource.Kernel && Given.Contains("--ring-buffer-kb"))
            throw new TcpqException(ExitCode.Usage, "--ring-buffer-kb needs --source events (the kernel's aggregates use no ring buffer)");
        if (Backend == TraceBackend.Ebpf && Source == EbpfSource.Events && Given.Contains("--latency-sample"))
            throw new TcpqException(ExitCode.Usage, "--latency-sample needs --source kernel (the events' source measures every accept)");
        if (Backend == TraceBackend.Ebpf && Source == EbpfSource.Kernel && Given.Contains("--max-listeners"))
            throw new TcpqException(ExitCode.Usage, "--max-listeners needs --source events (the kernel's maps hold 1024 listeners)");
        ValidateSpans();
        return this;
    }

    private void ValidateSpans()
    {
        if (SpansSlowerThan is null)
        {
            if (Given.Contains("--spans-max-rate"))
                throw new TcpqException(ExitCode.Usage, "--spans-max-rate needs --spans-slower-than");
            return;
        }
        if (Backend != TraceBackend.Ebpf || Source != EbpfSource.Kernel)
            throw new TcpqException(ExitCode.Usage, "--spans-slower-than needs --backend ebpf --source kernel (the default): counting mode's kernel side sends the slow connections");
        if (OtlpEndpoint is null)
            throw new TcpqException(ExitCode.Usage, "--spans-slower-than needs --otlp-endpoint: where the traces go");
        if (SpansMaxRate is < 1 or > 100_000)
            throw new TcpqException(ExitCode.Usage, $"bad --spans-max-rate {SpansMaxRate}: 1 to 100000 traces a second");
    }

    /// <summary>--spans-slower-than: "500ms", "1s", "1.5s"; 1 ms to 1 h.</summary>
    public static TimeSpan? ParseSpansSlowerThan(string? text)
    {
        if (text is null) return null;
        var t = text.Trim().ToLowerInvariant();
        double scale = t.EndsWith("ms", StringComparison.Ordinal) ? 1 : t.EndsWith("us", StringComparison.Ordinal) ? 0.001 : t.EndsWith('s') ? 1000 : 0;
        if (scale != 0) t = t[..^(scale == 1000 ? 1 : 2)];
        if (scale == 0 || !double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v)
            || v * scale < 1 || v * scale > 3_600_000)
            throw new TcpqException(ExitCode.Usage, $"bad --spans-slower-than '{text}': a duration from 1ms to 3600s, e.g. 200ms or 1.5s");
        return TimeSpan.FromMilliseconds(v * scale);
    }

    /// <summary>"127.0.0.1:9477", "[::1]:9477", "0.0.0.0:9477", ":9477" (loopback), or a port alone.</summary>
    public static IPEndPoint ParseListen(string? text)
    {
        if (text is null) return new IPEndPoint(IPAddress.Loopback, DefaultPort);
        var t = text.Trim();
        string host = "127.0.0.1", port = t;
        int colon = t.LastIndexOf(':');
        if (colon >= 0 && !(t.StartsWith('[') && t.EndsWith(']')))
        {
            host = t[..colon];
            port = t[(colon + 1)..];
            if (host.Length == 0) host = "127.0.0.1";
        }
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        else if (host.Contains(':')) host = "!"; // IPv6 needs brackets, or the port is ambiguous
        if (host == "localhost") host = "127.0.0.1";
        bool dotted = host.Contains(':') || host.Count(c => c == '.') == 3; // not inet_aton's "1.2.3" = 1.2.0.3
        if (!dotted || !IPAddress.TryParse(host, out var address) || !ushort.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out ushort p))
            throw new TcpqException(ExitCode.Usage, $"bad --listen '{text}': ADDRESS:PORT, e.g. 127.0.0.1:{DefaultPort}, [::1]:{DefaultPort} or 0.0.0.0:{DefaultPort} (an IP address, a port 0..65535)");
        return new IPEndPoint(address, p);
    }

    /// <summary>Seconds: "15", "15s", "1m".</summary>
    public static TimeSpan? ParseSeconds(string? text, string flag)
    {
        if (text is null) return null;
        var t = text.Trim();
        double scale = 1;
        if (t.EndsWith('m')) { t = t[..^1]; scale = 60; }
        else if (t.EndsWith('s')) t = t[..^1];
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v) || v <= 0)
            throw new TcpqException(ExitCode.Usage, $"bad {flag} '{text}': a number of seconds, e.g. 15 or 15s or 1m");
        return TimeSpan.FromSeconds(v * scale);
    }
}
