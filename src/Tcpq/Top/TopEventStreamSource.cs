using Tcpq.Aggregates;
using Tcpq.Bpf;
using Tcpq.Connections;
using Tcpq.Diag;
using Tcpq.Events;

namespace Tcpq.Top;

/// <summary>top's own adapter from an event stream (the eBPF ring buffer, or sock_diag sampled) to
/// <see cref="IAggregateSource"/>: the events are counted by an <see cref="EventAggregator"/> and
/// followed by a <see cref="ConnectionTracker"/> for the diagnosis. Kept private to top until the
/// shared event-stream source in Aggregates/ lands; <see cref="TopSources.Open"/> is the one place
/// that constructs it.</summary>
internal sealed class TopEventStreamSource : IAggregateSource, IEventSink
{
    /// <summary>sock_diag is sampled at most this often, whatever the caller's pace.</summary>
    private static readonly TimeSpan DiagSampleEvery = TimeSpan.FromMilliseconds(100);

    private readonly EventAggregator _aggregator = new();
    private Action _pump = () => { };
    private Func<ulong> _lost = () => 0;
    private IDisposable? _owner;

    private TopEventStreamSource(DropReasons reasons) => Reasons = reasons;

    public DropReasons Reasons { get; }
    public ConnectionTracker Tracker { get; } = new();
    public long Events { get; private set; }

    public void OnEvent(in TcpqEvent e)
    {
        Events++;
        _aggregator.OnEvent(in e);
        Tracker.OnEvent(in e);
    }

    /// <summary>Samples sock_diag in this network namespace; what is there at the start is the baseline, not events.</summary>
    public static TopEventStreamSource Diag(IReadOnlyList<ushort> ports)
    {
        var source = new TopEventStreamSource(DropReasons.Empty);
        var client = SockDiagClient.Open();
        source._owner = client;
        var sampler = new DiagSampler(NetNamespaces.CurrentInode(), ports, null, source);
        long last = long.MinValue / 2;
        source._pump = () =>
        {
            long now = WallClock.MonotonicNowNs();
            if (now - last < DiagSampleEvery.Ticks * 100) return;
            last = now;
            sampler.Sample(now, client.DumpBoth(DiagSampler.States, withDrops: true));
        };
        source._pump();
        return source;
    }

    public AggregateSnapshot Read()
    {
        _pump();
        return new AggregateSnapshot(DateTime.UtcNow, (ulong)WallClock.MonotonicNowNs(),
            [.. _aggregator.Listeners], _aggregator.OtherListeners,
            new AggregateCost(_lost(), _aggregator.ListenersOverflowed, null, 0));
    }

    public void Dispose() => _owner?.Dispose();
}
