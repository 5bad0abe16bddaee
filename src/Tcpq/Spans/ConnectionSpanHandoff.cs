using Tcpq.Events;

namespace Tcpq.Spans;

/// <summary>
/// Hands finished connections from the thread that reads the ring buffer to a thread of their
/// own, which makes them into spans (<see cref="IConnectionSpanSink"/> behind it, the exporter).
/// The reader only copies the connection into a preallocated slot of a bounded single-producer,
/// single-consumer ring, so building and sending spans never slows the ring buffer's reader: a
/// burst the exporter cannot keep up with fills the slots, and the connections that do not fit
/// are left out and counted (<see cref="Dropped"/>), never the kernel's events.
/// </summary>
/// <remarks>
/// The exporter's thread wakes every <see cref="SpanExportLimits.HandoffWake"/>, or at once when
/// half the slots are taken: one wake-up for many connections, not one each. After each drain it
/// tells <c>drained</c> (the exporter sends a batch that is due). It runs at the normal priority,
/// held to a share of one CPU (<see cref="CpuBudget"/>): past it, it sleeps, and the connections
/// that find no slot meanwhile are left out and counted.
/// </remarks>
public sealed class ConnectionSpanHandoff : IConnectionSpanSink, IDisposable
{
    private readonly IConnectionSpanSink _sink;
    private readonly ConnectionSpan[] _slots;
    private readonly int _wakeAt;
    private readonly TimeSpan _wakeEvery;
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly Thread _thread;
    private readonly Action<bool>? _drained;
    private readonly Func<CpuBudget>? _budget;
    /// <summary>Set by <see cref="Complete"/>: no connection is taken after it, and a rest ends.</summary>
    private readonly ManualResetEventSlim _completed = new(false);
    // written by one thread each: _written by the producer, _read by the exporter's thread
    private long _written, _read, _dropped;
    private Exception? _failure;

    /// <summary>The longest the spans' thread rests at once when over its CPU share, before it
    /// looks at its budget again (<see cref="Complete"/> ends a rest at once).</summary>
    public static readonly TimeSpan MaxRest = TimeSpan.FromMilliseconds(100);

    /// <summary>Connections handed on between two looks at the CPU budget.</summary>
    private const int BudgetEvery = 64;

    /// <param name="drained">After each drain, on the spans' thread: true for the last one.</param>
    /// <param name="cpuShare">Of one CPU, the most the spans' thread takes (the sink's work included),
    /// over any time but a burst of <paramref name="cpuBurst"/>; 1: no limit.</param>
    public ConnectionSpanHandoff(IConnectionSpanSink sink, int slots, TimeSpan wakeEvery, Action<bool>? drained = null,
        double cpuShare = 1, TimeSpan cpuBurst = default)
        : this(sink, slots, wakeEvery, drained,
            cpuShare < 1 ? () => new CpuBudget(cpuShare, cpuBurst, Interop.CurrentThread.CpuTimeNs, WallClock.MonotonicNowNs, MaxRest) : null)
    {
    }

    /// <param name="budget">Made on the spans' thread (its CPU time is that thread's); null: no limit.</param>
    internal ConnectionSpanHandoff(IConnectionSpanSink sink, int slots, TimeSpan wakeEvery, Action<bool>? drained, Func<CpuBudget>? budget)
    {
        _drained = drained;
        _budget = budget;
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        _sink = sink;
        _slots = new ConnectionSpan[slots];
        for (int i = 0; i < slots; i++) _slots[i] = new ConnectionSpan();
        _wakeAt = Math.Max(1, slots / 2);
        _wakeEvery = wakeEvery;
        _thread = new Thread(Run) { IsBackground = true, Name = "tcpq spans" };
        _thread.Start();
    }

    /// <summary>Connections handed on to the exporter's thread, and left out because every slot was taken.</summary>
    public long Handed => Volatile.Read(ref _written);
    public long Dropped => Volatile.Read(ref _dropped);
    /// <summary>What stopped the spans' thread, if something did (a defect): after it every
    /// connection is counted as dropped, and the command says it in a line.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>On the producer's thread: copies <paramref name="span"/> (the caller may reuse it
    /// at once) or counts it left out.</summary>
    public void Write(ConnectionSpan span)
    {
        if (LeavesOut()) return;
        long written = _written;
        long queued = written - Volatile.Read(ref _read);
        span.CopyTo(_slots[written % _slots.Length]);
        Volatile.Write(ref _written, written + 1);
        if (queued + 1 >= _wakeAt && !_wake.IsSet) _wake.Set();
    }

    /// <summary>On the producer's thread: every slot taken (or completing), so the next connection
    /// is left out: counted here, and the caller need not make its span.</summary>
    public bool LeavesOut()
    {
        if (_written - Volatile.Read(ref _read) < _slots.Length && !_completed.IsSet) return false;
        Volatile.Write(ref _dropped, _dropped + 1);
        return true;
    }

    /// <summary>Hands on what is queued and stops the exporter's thread: after it the sink has
    /// seen every connection that was not counted as dropped. Waits at most <paramref name="timeout"/>.</summary>
    public bool Complete(TimeSpan timeout)
    {
        _completed.Set();
        _wake.Set();
        return _thread.Join(timeout);
    }

    private void Run()
    {
        try
        {
            var budget = _budget?.Invoke();
            while (true)
            {
                // reset before draining: a wake-up that comes during the drain is not lost
                _wake.Reset();
                bool last = _completed.IsSet;
                Drain(last ? null : budget); // the last drain hands on all that is queued
                _drained?.Invoke(last);
                if (last) return;
                // a rest ignores the reader's wake-ups (the slots fill meanwhile), not the end
                if (budget is not null && budget.Overdrawn()) _completed.Wait(budget.Rest);
                else _wake.Wait(_wakeEvery);
            }
        }
        catch (Exception e)
        {
            // said by the command, on its thread; the slots stay taken, so what comes after is counted as dropped
            Volatile.Write(ref _failure, e);
        }
    }

    /// <summary>Hands on what is queued; with a budget, stops once it is overdrawn.</summary>
    private void Drain(CpuBudget? budget)
    {
        long read = _read, written = Volatile.Read(ref _written);
        int n = 0;
        while (read < written)
        {
            _sink.Write(_slots[read % _slots.Length]);
            read++;
            Volatile.Write(ref _read, read);
            if (budget is not null && ++n % BudgetEvery == 0 && budget.Overdrawn()) return;
        }
    }

    public void Dispose()
    {
        if (_thread.IsAlive) Complete(TimeSpan.FromSeconds(5));
        _wake.Dispose();
        _completed.Dispose();
    }
}
