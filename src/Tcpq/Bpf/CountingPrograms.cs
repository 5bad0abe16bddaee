using System.Runtime.InteropServices;
using Tcpq.Interop;

namespace Tcpq.Bpf;

/// <summary>
/// Counting mode's kernel side (bpf/count.bpf.c), loaded alone: five programs that count each
/// listener's connections into a slot of its own, with no syscall hooked and nothing kept per
/// connection, and a live reader run on demand. Disposing it detaches and unloads all of it.
/// </summary>
public sealed class CountingPrograms : IDisposable
{
    /// <summary>TCPQ_SLOTS in bpf/tcpq.h: slot 0 is "other".</summary>
    public const int Slots = 1024;

    private static readonly string[] TracingPrograms =
        ["tcpq_count_consume_skb", "tcpq_count_kfree_skb", "tcpq_count_set_state", "tcpq_count_synack_retrans"];

    private readonly BpfObject _object;
    private readonly List<SafeBpfLinkHandle> _links = [];

    private CountingPrograms(BpfObject obj) => _object = obj;

    /// <summary>Loads, hands the kernel its free slots, attaches. When it returns, counting is live.</summary>
    public static CountingPrograms Start(IReadOnlyList<ushort> ports, bool verbose = false)
    {
        var programs = new CountingPrograms(EmbeddedObject.Open("count.bpf.o", verbose));
        try
        {
            EmbeddedObject.Configure(programs._object, new TraceConfig(ports, null, TraceConfig.MinRingBufferKb), "bpf/count.bpf.c");
            LibbpfLog.Clear();
            try { programs._object.Load(); }
            catch (ErrnoException e) { throw KernelRefusals.Load(e.Errno); }
            var free = programs.Map("free_slots");
            for (uint slot = 1; slot < Slots; slot++) free.Push(slot);
            programs.Attach();
            return programs;
        }
        catch
        {
            programs.Dispose();
            throw;
        }
    }

    private void Attach()
    {
        string? mountedTracefs = KernelFileSystems.EnsureTracefs();
        try
        {
            foreach (var name in TracingPrograms)
                _links.Add(Attached(name, () => _object.FindProgram(name).Attach()));
        }
        finally
        {
            KernelFileSystems.Unmount(mountedTracefs);
        }
        using var cgroup = KernelFileSystems.OpenCgroupV2Root();
        _links.Add(Attached("cgroup_skb/ingress to the cgroup v2 root", () => _object.FindProgram("tcpq_count_ingress").AttachCgroup(cgroup)));
    }

    private static SafeBpfLinkHandle Attached(string what, Func<SafeBpfLinkHandle> attach)
    {
        try { return attach(); }
        catch (ErrnoException e) { throw KernelRefusals.Attach(what, e.Errno); }
    }

    internal BpfMap Map(string name) => _object.FindMap(name);

    /// <summary>Runs the live reader: slot_lives then holds each open slot's listener as it is now.</summary>
    /// <exception cref="ErrnoException">the kernel refused the run.</exception>
    internal void ReadLive() => _object.FindProgram("tcpq_count_read_live").TestRun(default);

    public void Dispose()
    {
        for (int i = _links.Count - 1; i >= 0; i--) _links[i].Dispose();
        _links.Clear();
        _object.Dispose();
    }

    /// <summary>struct tcpq_slot_info.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SlotInfo
    {
        public ulong Sk, Cookie, OpenedNs, ClosedNs;
        public Events.Address16 Address;
        public uint NetNs, QBase, QAtClose;
        public ushort Port;
        public byte Family, State;
    }

    /// <summary>enum tcpq_slot_state.</summary>
    internal const byte SlotFree = 0, SlotOpen = 1, SlotClosed = 2;

    /// <summary>struct tcpq_slot_live.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SlotLive
    {
        public ulong Cookie;
        public uint Ok, State, Q, Q0, QMax, Pad;
    }

    /// <summary>struct tcpq_slot_meta.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SlotMeta
    {
        public uint High, Pad;
        public ulong Overflowed;
    }

    /// <summary>struct tcpq_kernel_drop.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct KernelDrop
    {
        public uint Slot, Reason;
    }
}
