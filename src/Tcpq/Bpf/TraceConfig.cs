using System.Runtime.InteropServices;
using Tcpq.Events;

namespace Tcpq.Bpf;

/// <summary>What the kernel programs filter on, written into their .rodata before load so the
/// verifier prunes what is off (mirrors <c>struct tcpq_config</c> in bpf/tcpq.h, MaxPorts its
/// TCPQ_MAX_PORTS).</summary>
public sealed record TraceConfig(IReadOnlyList<ushort> Ports, IReadOnlySet<EventKind>? Kinds, int RingBufferKb = TraceConfig.DefaultRingBufferKb)
{
    /// <summary>8 MiB in all: on a machine with few CPUs each CPU's ring is large (4 MiB each on 2
    /// CPUs), since one CPU may make most of the events (connload's accepting thread and its
    /// softirqs) while the reader waits for a CPU; 4 MiB in all lost events under load on 2 CPUs
    /// (bench/RESULTS.md). With 32 CPUs or more each has the floor, <see cref="MinRingPerCpuKb"/>.</summary>
    public const int DefaultRingBufferKb = 8192;

    public const int MaxPorts = 64;

    public const int MinRingBufferKb = 4;
    public const int MaxRingBufferKb = 1024 * 1024; // 1 GiB of locked kernel memory

    /// <summary>In 64-bit arithmetic: a KiB count times 1024 must not wrap into a "power of two".</summary>
    public static bool IsValidRingBufferKb(long kb) => kb >= MinRingBufferKb && kb <= MaxRingBufferKb && (kb & (kb - 1)) == 0;

    public static string RingBufferRange => $"a power of two from {MinRingBufferKb} to {MaxRingBufferKb} (1 GiB)";

    /// <summary>No CPU's ring is smaller than this (unless the total is): one CPU may have all of
    /// the events (one NIC queue, one busy core), and the reader is woken when a ring is a quarter
    /// full.</summary>
    public const int MinRingPerCpuKb = 256;

    /// <summary>Each CPU's ring buffer, in bytes: the ring buffer's KiB are the total, split among
    /// the CPUs (a power of two each, so rounded down), but at least <see cref="MinRingPerCpuKb"/>
    /// or the total when that is less, and a whole number of pages.</summary>
    public static uint RingBytesPerCpu(int ringBufferKb, int cpus, int pageBytes)
    {
        int shift = 0;
        while ((1 << shift) < cpus && shift < 30) shift++;
        long kb = Math.Max(ringBufferKb >> shift, Math.Min(ringBufferKb, MinRingPerCpuKb));
        return (uint)Math.Max(kb * 1024, pageBytes);
    }

    /// <summary>The one check of how many ports the programs can filter on: every command makes it
    /// before it loads anything; <paramref name="done"/> says what is done to them ("traced").</summary>
    public static void RequireFilterablePorts(IReadOnlyList<ushort> ports, string done)
    {
        if (ports.Count > MaxPorts)
            throw new TcpqException(ExitCode.BadPort, $"{ports.Count} ports: at most {MaxPorts} can be {done} at once (or none, for every port)");
    }

    internal unsafe byte[] ToRodata()
    {
        RequireFilterablePorts(Ports, "traced");
        var raw = new RodataConfig { NPorts = (uint)Ports.Count, Kinds = 0xffffffff, Mode = ModeRows };
        if (Kinds != null)
        {
            raw.Kinds = 0;
            foreach (var k in Kinds) raw.Kinds |= 1u << (int)k;
        }
        for (int i = 0; i < Ports.Count; i++) raw.Ports[i] = Ports[i];
        return MemoryMarshal.AsBytes(new ReadOnlySpan<RodataConfig>(in raw)).ToArray();
    }

    /// <summary>enum tcpq_mode in bpf/tcpq.h.</summary>
    internal const uint ModeRows = 0x1;

    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct RodataConfig
    {
        public uint NPorts;
        public uint Kinds;
        public uint Mode;
        public uint Pad;
        public fixed ushort Ports[MaxPorts];
    }
}
