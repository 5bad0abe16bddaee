using System.Runtime.InteropServices;
using Tcpq.Aggregates;
using Tcpq.Bpf;
using Tcpq.Events;
using Tcpq.Interop;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>The kernel's account() (bpf/aggregates.h) on demand: tcpq's own embedded object with
/// only its <c>tcpq_account_probe</c> program loaded (a <c>syscall</c> program, never loaded by
/// tcpq itself), run with BPF_PROG_TEST_RUN on an event, and the counting maps read back the way
/// <see cref="KernelAggregates"/> reads them. Nothing is attached: no traffic is seen or changed.</summary>
public sealed class AccountProbe : IDisposable
{
    private const string Program = "tcpq_account_probe";
    private readonly BpfObject _object;

    public AccountProbe()
    {
        Requirements.Check();
        NativeLibraryResolver.Install();
        using var resource = typeof(Tracer).Assembly.GetManifestResourceStream("tcpq.bpf.o")
            ?? throw new InvalidOperationException("the BPF object is not embedded in tcpq");
        var elf = new byte[resource.Length];
        resource.ReadExactly(elf);
        _object = BpfObject.Open(elf);
        try
        {
            foreach (var name in _object.ProgramNames()) _object.FindProgram(name).SetAutoload(name == Program);
            _object.FindMap("events").SetMaxEntries(TraceConfig.MinRingBufferKb * 1024); // not written here
            _object.Load();
        }
        catch
        {
            _object.Dispose();
            throw;
        }
    }

    /// <summary>account() on this event, once, as if a hook had made it in counting mode.</summary>
    public void Account(in TcpqEvent e) =>
        Assert.Equal(0u, _object.FindProgram(Program).TestRun(MemoryMarshal.AsBytes(new ReadOnlySpan<TcpqEvent>(in e))));

    /// <summary>Every listener's figures, read as serve and top read them.</summary>
    public List<ListenerAggregate> Listeners() => KernelAggregates.ReadListeners(_object.FindMap("agg_counts"), _object.FindMap("agg_listeners"));

    /// <summary>The (kind, slot) of every counter account() made for this listener.</summary>
    public List<(EventKind Kind, uint Slot)> Counters(ListenerKey listener) =>
        [.. _object.FindMap("agg_counts").Keys<KernelAggregates.CounterKey>(100_000)
            .Where(k => new ListenerKey(k.Listener.NetNs, k.Listener.Address, k.Listener.Port) == listener)
            .Select(k => ((EventKind)k.Kind, k.Reason))
            .Order()];

    /// <summary>Events whose counter or listener did not fit the maps.</summary>
    public ulong Missed => _object.FindMap("agg_missed").SumPerCpu(0) ?? throw new InvalidOperationException("agg_missed cannot be read");

    public void Dispose() => _object.Dispose();
}
