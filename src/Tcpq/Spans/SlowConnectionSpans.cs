using System.Diagnostics;
using Tcpq.Bpf;
using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Serve;

namespace Tcpq.Spans;

/// <summary>
/// serve's spans (--spans-slower-than): counting mode's records of slow, dropped or retried
/// connections, read on the command's tick, become traces through an <see cref="IConnectionSpanSink"/>,
/// at most as many a second as the rate cap lets through. Each trace's id is chosen here, so the
/// exemplar that names it on the listener's histogram and the exported span agree.
/// </summary>
/// <remarks>
/// A connection may send two records: its handshake (slow, dropped or retried), then its accept
/// (a slow queue wait, seen in a sampling window) or its abort. The second continues the first's
/// trace: same trace id, its first SYN; it passes the cap, since the first did. Those first records
/// are remembered for <see cref="RememberFor"/>, at most <see cref="MaxRemembered"/> of them.
/// A client whose SYNs were all dropped and that stopped trying sends no record: the kernel cannot
/// know it gave up. Its entry stays in counting mode's table of dropped SYNs, which is read every
/// <see cref="ScanEvery"/>: one with no SYN for <see cref="GaveUpAfter"/> becomes a trace once.
/// </remarks>
public sealed class SlowConnectionSpans(SpanRecords? kernel, IConnectionSpanSink sink, SpanRateCap cap, WallClock clock) : ISpanFigures
{
    public const int MaxRemembered = 4096;
    public static readonly TimeSpan RememberFor = TimeSpan.FromMinutes(2);

    /// <summary>No SYN for this long after a dropped one: the client gave up. A Linux client
    /// retries a SYN after 1, 2, 4 … 32 s (six retries, tcp_syn_retries), so past 35 s one that
    /// was still trying has either got in or stopped; one set to retry longer shows as two traces.</summary>
    public static readonly TimeSpan DefaultGaveUpAfter = TimeSpan.FromSeconds(35);
    public TimeSpan GaveUpAfter { get; init; } = DefaultGaveUpAfter;
    /// <summary>How often the table of dropped SYNs is read (a walk of up to 16,384 keys).</summary>
    public TimeSpan ScanEvery { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>How long the kernel remembers a dropped SYN (DROP_MEMORY_NS, bpf/count.h): clients
    /// handed on are remembered as long, so each is handed on once.</summary>
    private const ulong DropMemoryNs = 180_000_000_000;

    private readonly ConnectionSpan _span = new();
    private readonly Dictionary<ConnectionKey, ulong> _gaveUp = [];
    private ulong _nextScanNs, _scanNs;
    private readonly Dictionary<ConnectionKey, (ActivityTraceId TraceId, SpanRecord Record)> _handshakes = [];
    private SpanRecords.Handler? _onRecord;
    private long _sent;

    public SlowConnectionSpans(SpanRecords? kernel, IConnectionSpanSink sink, int perSecond, WallClock clock)
        : this(kernel, sink, new SpanRateCap(perSecond), clock) { }

    public ExemplarStore Exemplars { get; } = new();
    public long Sent => Interlocked.Read(ref _sent);
    public long RateCapped => Interlocked.Read(ref _rateCapped);
    private long _rateCapped;
    public ulong RingFull => kernel?.Lost ?? 0;

    /// <summary>Reads the kernel's records waiting (none wait for a wakeup): call it every tick.</summary>
    public int Poll()
    {
        if (kernel is null) return 0;
        int n = kernel.Read(_onRecord ??= Add);
        ulong now = (ulong)WallClock.MonotonicNowNs();
        if (now >= _nextScanNs)
        {
            _nextScanNs = now + (ulong)ScanEvery.Ticks * 100;
            _scanNs = now;
            n += kernel.ReadDropped(now, (ulong)GaveUpAfter.Ticks * 100, _onRecord);
        }
        return n;
    }

    /// <summary>Whether the client whose first dropped SYN was at <paramref name="firstNs"/> was
    /// handed on already (each read of the table finds it again); if not, it is remembered as
    /// handed on now.</summary>
    private bool HandedOn(in ConnectionKey key, ulong firstNs)
    {
        if (_gaveUp.TryGetValue(key, out ulong first) && first == firstNs) return true;
        if (_gaveUp.Count >= SpanRecords.MaxDroppedClients)
        {
            foreach (var (k, f) in _gaveUp)
                if (f + DropMemoryNs < _scanNs) _gaveUp.Remove(k);
            if (_gaveUp.Count >= SpanRecords.MaxDroppedClients) _gaveUp.Clear();
        }
        _gaveUp[key] = firstNs;
        return false;
    }

    /// <summary>One record: a trace, the continuation of one, or refused by the cap.</summary>
    public void Add(in SpanRecord record)
    {
        var key = SpanRecordReading.KeyOf(record);
        if (record.Kind == SpanRecordKind.Dropped && HandedOn(key, record.FirstSynNs)) return;
        ActivityTraceId traceId;
        SpanRecord? prior = null;
        // an accept or abort continues its handshake's trace; a client that never got in has none
        // (a handshake remembered on its 4-tuple was an earlier connection's)
        if (record.Kind is SpanRecordKind.Accepted or SpanRecordKind.Aborted && _handshakes.Remove(key, out var first) &&
            record.EndNs >= first.Record.EstablishedNs && record.EndNs - first.Record.EstablishedNs < (ulong)RememberFor.Ticks * 100)
        {
            traceId = first.TraceId;
            prior = first.Record;
        }
        else if (cap.TryTake((long)(record.Kind == SpanRecordKind.Dropped ? Math.Max(record.EndNs, _scanNs) : record.EndNs)))
        {
            traceId = ActivityTraceId.CreateRandom();
        }
        else
        {
            Interlocked.Increment(ref _rateCapped);
            return;
        }
        SpanRecordReading.Fill(_span, record, traceId, prior);
        Offer(record, _span, traceId);
        sink.Write(_span);
        Interlocked.Increment(ref _sent);
        if (record.Kind == SpanRecordKind.Established) Remember(key, traceId, record);
    }

    /// <summary>The trace as the exemplar of each histogram its connection adds to.</summary>
    private void Offer(in SpanRecord record, ConnectionSpan span, ActivityTraceId traceId)
    {
        var listener = SpanRecordReading.ListenerOf(record);
        string id = traceId.ToHexString();
        double at = (clock.ToUtc(span.EndNs) - DateTime.UnixEpoch).TotalSeconds;
        if (record.Kind == SpanRecordKind.Established && span.FirstSynNs > 0)
            Exemplars.Offer("tcpq_handshake_duration_seconds", listener, new(id, Seconds(span.EstablishedNs - span.FirstSynNs), at));
        if (record.Kind == SpanRecordKind.Accepted)
        {
            Exemplars.Offer("tcpq_accept_queue_wait_seconds", listener, new(id, Seconds(span.AcceptNs - span.EstablishedNs), at));
            if (span.FirstSynNs > 0)
                Exemplars.Offer("tcpq_syn_to_accept_seconds", listener, new(id, Seconds(span.AcceptNs - span.FirstSynNs), at));
        }
    }

    private void Remember(in ConnectionKey key, ActivityTraceId traceId, in SpanRecord record)
    {
        if (_handshakes.Count >= MaxRemembered)
        {
            ulong horizon = record.EndNs - Math.Min(record.EndNs, (ulong)RememberFor.Ticks * 100);
            foreach (var (k, v) in _handshakes)
                if (v.Record.EstablishedNs < horizon) _handshakes.Remove(k);
            if (_handshakes.Count >= MaxRemembered) _handshakes.Clear();
        }
        _handshakes[key] = (traceId, record);
    }

    private static double Seconds(ulong ns) => ns / 1e9;
}
