using System.Runtime.InteropServices;
using Tcpq.Events;

namespace Tcpq.Bpf;

/// <summary>What the kernel programs filter on, written into their .rodata before load so the
/// verifier prunes what is off (mirrors <c>struct tcpq_config</c> in bpf/tcpq.h, MaxPorts its
/// TCPQ_MAX_PORTS).</summary>
public sealed record TraceConfig(IReadOnlyList<ushort> Ports, IReadOnlySet<EventKind>? Kinds, int RingBufferKb = TraceConfig.DefaultRingBufferKb)
{
    public const int DefaultRingBufferKb = 4096;

    public const int MaxPorts = 64;

    internal unsafe byte[] ToRodata()
    {
        if (Ports.Count > MaxPorts) throw new TcpqException(ExitCode.BadPort, $"at most {MaxPorts} ports can be traced at once");
        var raw = new RodataConfig { NPorts = (uint)Ports.Count, Kinds = 0xffffffff };
        if (Kinds != null)
        {
            raw.Kinds = 0;
            foreach (var k in Kinds) raw.Kinds |= 1u << (int)k;
        }
        for (int i = 0; i < Ports.Count; i++) raw.Ports[i] = Ports[i];
        return MemoryMarshal.AsBytes(new ReadOnlySpan<RodataConfig>(in raw)).ToArray();
    }

    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct RodataConfig
    {
        public uint NPorts;
        public uint Kinds;
        public fixed ushort Ports[MaxPorts];
    }
}
