using System.CommandLine;
using System.Globalization;
using Tcpq.Bpf;
using Tcpq.Events;

namespace Tcpq.Commands;

/// <summary>The options trace, serve and top share, declared once: each verb names them in its own
/// words (what it does to a port, what its interval paces) and parses them the same way.</summary>
internal static class CommonOptions
{
    /// <summary>How often sock_diag is sampled unless --interval says otherwise.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(100);

    /// <param name="what">"Trace this listening port", "Watch this listening port"…</param>
    public static Option<string[]> Ports(string what) => new("--port", "-p")
    {
        HelpName = "PORT",
        Description = $"{what} (repeatable, or a comma list); default: every port",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    public static Option<TraceBackend> Backend(string description) => EnumOption.Create<TraceBackend>("--backend", "-b", description);

    public static Option<string?> Interval(string description) => new("--interval", "-i") { HelpName = "TIME", Description = description };

    public static Option<double?> Duration() => new("--duration", "-d") { HelpName = "SECONDS", Description = "Stop after this many seconds" };

    public static Option<bool> Verbose() => new("--verbose", "-v") { Description = "Print libbpf's messages (eBPF backend)" };

    /// <param name="when">When it applies, and what more to say: "(--source events)".</param>
    public static Option<int> RingBufferKb(string when) => new("--ring-buffer-kb")
    {
        HelpName = "KIB",
        Description = $"Size of the kernel's event ring buffer in KiB, {TraceConfig.RingBufferRange} {when}",
        DefaultValueFactory = _ => TraceConfig.DefaultRingBufferKb,
    };

    /// <summary>When counting mode's accept hooks, behind the queue-wait histograms, are attached.</summary>
    /// <param name="byDefault">the verb's default, as the help says it: "1s/10s", "always".</param>
    public static Option<string?> LatencySample(string byDefault) => new("--latency-sample")
    {
        HelpName = "WINDOW/PERIOD|always|off",
        Description = "When the accept hooks behind the accept-queue wait histograms are attached (syscall hooks: every syscall of the machine is slower meanwhile): " +
            $"a window in every period, always, or off (default {byDefault}; --backend ebpf, counted in the kernel)",
    };

    /// <summary>--latency-sample's text, or the default when not given.</summary>
    public static LatencySampling ParseLatencySample(string? text) =>
        text is null ? LatencySampling.Default
        : LatencySampling.Parse(text) ?? throw new TcpqException(ExitCode.Usage, $"bad --latency-sample '{text}': {LatencySampling.Syntax}");

    public static Option<string?> Dotnet(string description) => new("--dotnet") { HelpName = "auto|off|PID", Description = description };

    /// <summary>The flags among <paramref name="options"/> the user gave (not defaulted), by name:
    /// what the options' checks use to refuse a flag the backend does not use.</summary>
    public static HashSet<string> Given(ParseResult parse, params Option[] options)
    {
        var given = new HashSet<string>();
        foreach (var o in options)
            if (parse.GetResult(o) is { Implicit: false }) given.Add(o.Name);
        return given;
    }

    /// <summary>"100", "100ms", "0.5s": 10 ms to 60 s; <paramref name="expected"/> says what a
    /// verb takes when the text is not that.</summary>
    public static TimeSpan? ParseInterval(string? text, string expected = "10ms to 60s, e.g. 100ms or 0.5s")
    {
        if (text is null) return null;
        var t = text.Trim();
        double scale = 1;
        if (t.EndsWith("ms", StringComparison.OrdinalIgnoreCase)) t = t[..^2];
        else if (t.EndsWith('s') || t.EndsWith('S')) { t = t[..^1]; scale = 1000; }
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v)
            || v * scale < 10 || v * scale > 60_000)
            throw new TcpqException(ExitCode.Usage, $"bad --interval '{text}': {expected}");
        return TimeSpan.FromMilliseconds(v * scale);
    }
}
