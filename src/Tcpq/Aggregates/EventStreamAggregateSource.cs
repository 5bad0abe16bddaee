using Tcpq.Bpf;
using Tcpq.Diag;
using Tcpq.Events;

namespace Tcpq.Aggregates;

/// <summary>
/// Aggregates from an event stream: the eBPF tracer's ring buffer, or the diag sampler. A stream
/// must be drained all the time (a ring buffer left alone between two scrapes fills and loses
/// events; a sampler must sample at its interval), so a thread of its own drains it into an
/// <see cref="EventAggregator"/>; <see cref="Read"/> drains once more and copies the figures out
/// under the same lock, so a reader never sees a half-counted event.
/// </summary>
public sealed class EventStreamAggregateSource : IAggregateSource
{
    /// <summary>How often the ring buffer is drained: at 40 k events/s that is ~1000 events a time,
    /// far below what the default 4 MiB ring holds.</summary>
    public static readonly TimeSpan RingDrainInterval = TimeSpan.FromMilliseconds(25);

    private readonly object _gate = new();
    private readonly EventAggregator _aggregator;
    private readonly Action _drain;
    private readonly Func<ulong> _lost;
    private readonly IDisposable _stream;
    private readonly bool _measuresPrograms;
    private readonly TimeSpan _interval;
    private readonly ManualResetEventSlim _stop = new();
    private Thread? _pump;
    private Exception? _failure;

    public DropReasons Reasons { get; }

    private EventStreamAggregateSource(EventAggregator aggregator, DropReasons reasons, TimeSpan interval,
        Action drain, Func<ulong> lost, IDisposable stream, bool measuresPrograms)
    {
        _aggregator = aggregator;
        Reasons = reasons;
        _interval = interval;
        _drain = drain;
        _lost = lost;
        _stream = stream;
        _measuresPrograms = measuresPrograms;
    }

    /// <summary>Loads and attaches the kernel programs (every event, exact); when it returns,
    /// counting is live.</summary>
    public static EventStreamAggregateSource Ebpf(TraceConfig config, DropReasons reasons, bool verbose = false,
        int maxListeners = EventAggregator.DefaultMaxListeners)
    {
        var aggregator = new EventAggregator(maxListeners);
        var tracer = Tracer.Start(config, aggregator, verbose);
        return new EventStreamAggregateSource(aggregator, reasons, RingDrainInterval,
            () => tracer.Poll(0), tracer.LostEvents, tracer, measuresPrograms: true).Started();
    }

    /// <summary>Samples sock_diag in the current network namespace every <paramref name="interval"/>
    /// (no eBPF; sampled, not exact). The first sample is the baseline: what is there already is not counted.</summary>
    public static EventStreamAggregateSource Diag(IReadOnlyList<ushort> ports, TimeSpan interval,
        int maxListeners = EventAggregator.DefaultMaxListeners)
    {
        var aggregator = new EventAggregator(maxListeners);
        var client = SockDiagClient.Open();
        try
        {
            var sampler = new DiagSampler(NetNamespaces.CurrentInode(), ports, kinds: null, aggregator);
            void Sample() => sampler.Sample(WallClock.MonotonicNowNs(), client.DumpBoth(DiagSampler.States, withDrops: true));
            Sample();
            return new EventStreamAggregateSource(aggregator, DropReasons.Empty, interval, Sample, () => 0, client, measuresPrograms: false).Started();
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private EventStreamAggregateSource Started()
    {
        _pump = new Thread(Pump) { IsBackground = true, Name = "tcpq-aggregate-pump" };
        _pump.Start();
        return this;
    }

    private void Pump()
    {
        try
        {
            while (!_stop.Wait(_interval))
                lock (_gate) _drain();
        }
        catch (Exception e)
        {
            _failure = e; // Read rethrows it: a source that stopped counting must not look idle
        }
    }

    public AggregateSnapshot Read()
    {
        lock (_gate)
        {
            if (_failure is { } failure) throw failure is TcpqException ? failure : new TcpqException(ExitCode.Failure, $"reading events: {failure.Message}", failure);
            _drain();
            var runTime = _measuresPrograms ? BpfProgramStats.OfThisProcess() : null;
            return new AggregateSnapshot(
                DateTime.UtcNow,
                (ulong)WallClock.MonotonicNowNs(),
                [.. _aggregator.Listeners.Select(Copy)],
                _aggregator.OtherListeners is { } other ? Copy(other) : null,
                new AggregateCost(_lost(), _aggregator.ListenersOverflowed, runTime?.RunTime, runTime?.Runs ?? 0));
        }
    }

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
        _stop.Set();
        _pump?.Join();
        lock (_gate) _stream.Dispose();
        _stop.Dispose();
    }
}
