using System.CommandLine;
using System.Globalization;

namespace Tcpq.Commands;

/// <summary>Where <c>tcpq trace</c> gets its events: the eBPF programs (exact), or sock_diag
/// sampled at an interval (for machines that cannot load eBPF).</summary>
public enum TraceBackend { Ebpf, Diag }

/// <summary>The <c>--backend</c> and <c>--interval</c> options of <c>tcpq trace</c>.</summary>
public static class TraceBackendOptions
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(100);

    public static Option<TraceBackend> Backend() => new("--backend", "-b")
    {
        Description = "ebpf (default: every event, exact) or diag (samples sock_diag; no eBPF, no root for the current namespace; not exact)",
        DefaultValueFactory = _ => TraceBackend.Ebpf,
    };

    public static Option<string?> Interval() => new("--interval", "-i")
    {
        HelpName = "TIME",
        Description = "With --backend diag: time between samples, e.g. 100ms (default), 0.5s, or a number of ms",
    };

    /// <summary>"100", "100ms", "0.5s": 10 ms to 60 s.</summary>
    public static TimeSpan? ParseInterval(string? text, TraceBackend backend)
    {
        if (text is null) return null;
        if (backend != TraceBackend.Diag)
            throw new TcpqException(ExitCode.Usage, "--interval applies to --backend diag only");
        var t = text.Trim();
        double scale = 1;
        if (t.EndsWith("ms", StringComparison.OrdinalIgnoreCase)) t = t[..^2];
        else if (t.EndsWith('s') || t.EndsWith('S')) { t = t[..^1]; scale = 1000; }
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v)
            || v * scale < 10 || v * scale > 60_000)
            throw new TcpqException(ExitCode.Usage, $"bad --interval '{text}': 10ms to 60s, e.g. 100ms or 0.5s");
        return TimeSpan.FromMilliseconds(v * scale);
    }
}
