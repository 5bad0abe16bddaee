namespace Tcpq.Events;

/// <summary>The keys' hash (<see cref="Tcpq.Connections.ConnectionKey"/>, <see cref="ListenerKey"/>):
/// a multiply-xor mix seeded once per process, so peers that choose their addresses and ports
/// cannot aim at one bucket of the tracker's tables without knowing the seed.</summary>
internal static class KeyHash
{
    /// <summary>The golden ratio's 64-bit constant: odd, its bits well spread.</summary>
    public const ulong K = 0x9E3779B97F4A7C15;
    public static readonly ulong Seed = (ulong)Random.Shared.NextInt64() | 1;
}
