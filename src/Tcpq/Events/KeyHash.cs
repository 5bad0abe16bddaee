using System.Runtime.CompilerServices;

namespace Tcpq.Events;

/// <summary>The keys' hash (<see cref="Tcpq.Connections.ConnectionKey"/>, <see cref="ListenerKey"/>):
/// a multiply-xor mix seeded once per process, so peers that choose their addresses and ports
/// cannot aim at one bucket of the tracker's tables without knowing the seed.</summary>
internal static class KeyHash
{
    /// <summary>The golden ratio's 64-bit constant: odd, its bits well spread.</summary>
    private const ulong K = 0x9E3779B97F4A7C15;
    private static readonly ulong Seed = (ulong)Random.Shared.NextInt64() | 1;

    /// <summary>The start of a hash: its first word, seeded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Start(ulong word) => (word ^ Seed) * K;

    /// <summary>One more word into the hash.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Add(ulong h, ulong word) => (h ^ word) * K;

    /// <summary>The hash as a Dictionary takes it: both halves folded in.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Finish(ulong h) => (int)(h ^ h >> 32);
}
