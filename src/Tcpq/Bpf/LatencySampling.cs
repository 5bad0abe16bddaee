using System.Globalization;

namespace Tcpq.Bpf;

/// <summary>When counting mode's accept hooks are attached, for the queue-wait and SYN-to-accept
/// histograms: a window in every period (a syscall hook slows every syscall of the machine while
/// attached), always, or never. <c>--latency-sample</c> of serve and top.</summary>
public sealed record LatencySampling(TimeSpan Window, TimeSpan Period)
{
    /// <summary>100 ms in every second: the same 10 % of the time as 1 s in 10, in ten times as many
    /// windows, so the sample follows a load that changes from second to second (bench/RESULTS.md:
    /// largest CDF gap 0.017 against 0.12 for 1s/10s) and every second of top has waits.</summary>
    public static readonly LatencySampling Default = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1));
    public static readonly LatencySampling Always = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    public static readonly LatencySampling Off = new(TimeSpan.Zero, TimeSpan.Zero);

    public bool IsOff => Window == TimeSpan.Zero;

    public const string Syntax = "WINDOW/PERIOD (e.g. 100ms/1s, the default; 1s/10s), always, or off";

    /// <summary>Parses <see cref="Syntax"/>; null when the text is not one of them. The period is a
    /// whole number of windows, from 100 ms to 1 h.</summary>
    public static LatencySampling? Parse(string text)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "always": return Always;
            case "off": return Off;
        }
        var parts = text.Split('/');
        if (parts.Length != 2 || Duration(parts[0]) is not { } window || Duration(parts[1]) is not { } period) return null;
        if (window < TimeSpan.FromMilliseconds(100) || period > TimeSpan.FromHours(1) || period < window || period.Ticks % window.Ticks != 0) return null;
        return new LatencySampling(window, period);
    }

    private static TimeSpan? Duration(string text)
    {
        var t = text.Trim().ToLowerInvariant();
        double scale = t.EndsWith("ms", StringComparison.Ordinal) ? 0.001 : t.EndsWith('s') ? 1 : t.EndsWith('m') ? 60 : 0;
        if (scale == 0) return null;
        t = t[..^(scale == 0.001 ? 2 : 1)];
        if (!double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v) || v <= 0) return null;
        return TimeSpan.FromMilliseconds(Math.Round(v * scale * 1000));
    }

    public override string ToString() => IsOff ? "off" : Window == Period ? "always" : $"{Text(Window)}/{Text(Period)}";

    private static string Text(TimeSpan t) => t.TotalMilliseconds % 1000 == 0 ? $"{t.TotalSeconds:0}s" : $"{t.TotalMilliseconds:0}ms";
}
