using Tcpq.Bpf;
using Tcpq.Diag;
using Tcpq.Events;

namespace Tcpq.Aggregates;

/// <summary>
/// Aggregates counted from an event stream — the eBPF tracer's ring buffer, or sock_diag sampled —
/// by an <see cref="EventAggregator"/> that is the stream's sink (with whatever else is to see the
/// same events: top's tracker). A stream must be pumped all the time (a ring buffer left alone
/// between two scrapes fills and loses events; a sampler must sample at its interval): the
/// command's <see cref="PollLoop"/> pumps this source every <see cref="Pace"/>, and
/// <see cref="Read"/> pumps once more and copies the figures out under the same lock, so a reader
/// on another thread (a scrape) never sees a half-counted event.
/// </summary>
public sealed class EventStreamAggregateSource : IAggregateSource, IEventSource
{
    /// <summary>How often the ring buffer is drained: at 40 k events/s that is ~1000 events a time,
    /// far below what the default 4 MiB ring holds.</summary>
    public static readonly TimeSpan RingDrainInterval = TimeSpan.FromMilliseconds(25);

    private readonly Lock _gate = new();
    private readonly EventAggregator _aggregator;
    private readonly IEventSource _stream;
    private readonly bool _measuresPrograms;

    public DropReasons Reasons { get; }

    /// <summary>How often the stream wants pumping: the loop's tick.</summary>
    public TimeSpan Pace { get; }

    private EventStreamAggregateSource(EventAggregator aggregator, IEventSource stream, DropReasons reasons, TimeSpan pace, bool measuresPrograms)
    {
        _aggregator = aggregator;
        _stream = stream;
        Reasons = reasons;
        Pace = pace;
        _measuresPrograms = measuresPrograms;
    }

    /// <summary>Loads and attaches the kernel programs (every event, exact); when it returns,
    /// counting is live.</summary>
    public static EventStreamAggregateSource Ebpf(TraceConfig config, DropReasons reasons, bool verbose = false,
        int maxListeners = EventAggregator.DefaultMaxListeners)
    {
        var aggregator = new EventAggregator(maxListeners);
        return new(aggregator, Tracer.Start(config, aggregator, verbose), reasons, RingDrainInterval, measuresPrograms: true);
    }

    /// <summary>Samples sock_diag in the current network namespace every <paramref name="interval"/>
    /// (no eBPF; sampled, not exact), into the aggregator and into <paramref name="alsoTo"/> (top's
    /// tracker) when given. The first sample is the baseline: what is there already is not counted.</summary>
    public static EventStreamAggregateSource Diag(IReadOnlyList<ushort> ports, TimeSpan interval,
        int maxListeners = EventAggregator.DefaultMaxListeners, IEventSink? alsoTo = null)
    {
        var aggregator = new EventAggregator(maxListeners);
        IEventSink sink = alsoTo is null ? aggregator : new EventFanOut(aggregator, alsoTo);
        return new(aggregator, DiagSampler.Open(ports, kinds: null, sink), DropReasons.Empty, interval, measuresPrograms: false);
    }

    /// <summary>Counts what the stream has now; never waits (a reader may be waiting on the lock).</summary>
    public int Pump(TimeSpan wait)
    {
        lock (_gate) return _stream.Pump(TimeSpan.Zero);
    }

    /// <summary>Events lost (ring buffer full) and, for the eBPF tracer, SYNs whose verdict was
    /// missed (a drop or a cookie the counters may lack), as counting mode reports its own.</summary>
    public ulong Lost => _stream.Lost + (_stream is Tracer tracer ? tracer.MissedVerdicts() : 0);

    public AggregateSnapshot Read()
    {
        lock (_gate)
        {
            _stream.Pump(TimeSpan.Zero);
            var runTime = _measuresPrograms ? BpfProgramStats.OfThisProcess() : null;
            return new AggregateSnapshot(
                DateTime.UtcNow,
                (ulong)WallClock.MonotonicNowNs(),
                [.. _aggregator.Listeners.Select(Copy)],
                _aggregator.OtherListeners is { } other ? Copy(other) : null,
                new AggregateCost(Lost, _aggregator.ListenersOverflowed, runTime?.RunTime, runTime?.Runs ?? 0))
            {
                QueuesReadNow = NoneReadNow, // the queues as of each listener's last event (LiveQueueSource reads them now)
            };
        }
    }

    private static readonly IReadOnlySet<ListenerKey> NoneReadNow = new HashSet<ListenerKey>();

    /// <summary>A copy a reader may keep while counting goes on.</summary>
    internal static ListenerAggregate Copy(ListenerAggregate a)
    {
        var c = new ListenerAggregate(a.Key)
        {
            Syns = a.Syns, SynRetries = a.SynRetries, SynCookies = a.SynCookies, SynAckRetransmits = a.SynAckRetransmits,
            Handshakes = a.Handshakes, Accepts = a.Accepts,
            Q0 = a.Q0, Q = a.Q, QMax = a.QMax, PeakQ = a.PeakQ, PeakQ0 = a.PeakQ0, LastNs = a.LastNs,
        };
        foreach (var (k, v) in a.SynDrops) c.SynDrops[k] = v;
        foreach (var (k, v) in a.AckDrops) c.AckDrops[k] = v;
        foreach (var (k, v) in a.Aborts) c.Aborts[k] = v;
        c.Handshake.Add(a.Handshake.Counts, a.Handshake.Count, a.Handshake.SumNs);
        c.QueueWait.Add(a.QueueWait.Counts, a.QueueWait.Count, a.QueueWait.SumNs);
        c.SynToAccept.Add(a.SynToAccept.Counts, a.SynToAccept.Count, a.SynToAccept.SumNs);
        return c;
    }

    public void Dispose()
    {
        lock (_gate) _stream.Dispose();
    }
}
