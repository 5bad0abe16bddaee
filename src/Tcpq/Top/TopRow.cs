using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Top;

/// <summary>One listener over the last interval: rates from the difference of two readings, the
/// queues as last seen, latency percentiles of the interval's connections (upper bounds of their
/// power-of-two buckets, µs; null when none completed that step), and the diagnosis's top finding
/// (null when no rule fires).</summary>
public sealed record TopRow(
    ListenerKey Key,
    double ArrivalsPerSecond,
    double AcceptsPerSecond,
    uint Q, uint QMax, uint PeakQ, uint Q0,
    double DropsPerSecond,
    IReadOnlyList<(string Reason, double PerSecond)> DropsByReason,
    double CookiesPerSecond,
    ulong? HandshakeP50Us, ulong? HandshakeP99Us,
    ulong? WaitP50Us, ulong? WaitP99Us,
    Finding? Finding)
{
    /// <summary>The container and pod the listener runs in; null for the host's (or when not looked up).</summary>
    public Workload? Workload { get; init; }

    /// <summary>The listeners merged past the source's limit carry the key of no listener.</summary>
    public bool IsOther => Key.Port == 0;

    /// <summary>"127.0.0.1:2000", "[::]:443", "*:80" (address unknown), "(other listeners)".</summary>
    public string Label => IsOther ? "(other listeners)"
        : Key.AddressText.Length == 0 ? $"*:{Key.Port}"
        : Key.AddressText.Contains(':') ? $"[{Key.AddressText}]:{Key.Port}"
        : $"{Key.AddressText}:{Key.Port}";

    /// <summary>How full the accept queue is now (Linux admits Qmax + 1).</summary>
    public double Fill => QMax == 0 ? 0 : (double)Q / QMax;
}
