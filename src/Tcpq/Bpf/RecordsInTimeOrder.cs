using System.Runtime.InteropServices;
using Tcpq.Events;

namespace Tcpq.Bpf;

/// <summary>
/// The records of the per-CPU rings, handed on as one stream in the order of their timestamps
/// (a merge: each ring is in order already, as its one CPU wrote it). The rings are read one
/// after the other, and while one is read the others fill: so a read hands on only what was
/// stamped before it began, and keeps the rest for the next read, one tick later at most, when what
/// the other CPUs stamped before that is in. A record comes out of order only when its program was
/// preempted for longer than a read between taking its time and committing it.
/// Copies each record once (136 bytes) into arrays kept from read to read: nothing is allocated per
/// record once they have grown to the busiest read.
/// </summary>
internal sealed class RecordsInTimeOrder
{
    private readonly TcpqEvent[][] _staged;
    private readonly int[] _head;
    private readonly int[] _count;
    private long _handedOn;

    public RecordsInTimeOrder(int rings)
    {
        _staged = new TcpqEvent[rings][];
        for (int i = 0; i < rings; i++) _staged[i] = new TcpqEvent[64];
        _head = new int[rings];
        _count = new int[rings];
    }

    /// <summary>Records handed on since the start, also those a throwing sink was given: the
    /// tracer's event count, which a read that ends in an exception must not lose.</summary>
    public long HandedOn => Volatile.Read(ref _handedOn); // one writer: the loop's thread

    /// <summary>Records kept for a later read.</summary>
    public int Staged
    {
        get
        {
            int n = 0;
            for (int i = 0; i < _count.Length; i++) n += _count[i] - _head[i];
            return n;
        }
    }

    /// <summary>A record of ring <paramref name="ring"/>, as the kernel wrote it (a shorter one is
    /// not an event of this build's layout, and is skipped).</summary>
    public void Add(int ring, ReadOnlySpan<byte> record)
    {
        if (record.Length < TcpqEvent.Size) return;
        var staged = _staged[ring];
        if (_count[ring] == staged.Length)
        {
            Array.Resize(ref staged, staged.Length * 2);
            _staged[ring] = staged;
        }
        staged[_count[ring]++] = MemoryMarshal.Read<TcpqEvent>(record);
    }

    /// <summary>Hands on, oldest first, every record stamped before <paramref name="beforeNs"/>
    /// (CLOCK_MONOTONIC, as the kernel stamps them); the others stay. Returns how many it handed on.
    /// When the sink throws, the record it was given counts as handed on.</summary>
    public int HandOn(ulong beforeNs, IEventSink sink)
    {
        int handed = 0;
        try
        {
            // the ring with the oldest head hands on a run of its records, up to the next ring's
            // oldest: one comparison a record, a scan of the rings only when the run ends
            while (true)
            {
                int oldest = -1;
                ulong oldestTs = beforeNs, nextTs = beforeNs;
                for (int r = 0; r < _staged.Length; r++)
                {
                    if (_head[r] == _count[r]) continue;
                    ulong ts = _staged[r][_head[r]].TsNs;
                    if (ts < oldestTs)
                    {
                        nextTs = oldestTs;
                        oldestTs = ts;
                        oldest = r;
                    }
                    else if (ts < nextTs)
                    {
                        nextTs = ts;
                    }
                }
                if (oldest < 0) break;
                var staged = _staged[oldest];
                do
                {
                    int i = _head[oldest]++;
                    handed++;
                    _handedOn++;
                    sink.OnEvent(in staged[i]);
                }
                while (_head[oldest] < _count[oldest] && staged[_head[oldest]].TsNs <= nextTs && staged[_head[oldest]].TsNs < beforeNs);
            }
        }
        finally
        {
            Compact();
        }
        return handed;
    }

    /// <summary>Hands on every record kept, oldest first.</summary>
    public int HandOnAll(IEventSink sink) => HandOn(ulong.MaxValue, sink);

    /// <summary>What stays moves to the front of its array.</summary>
    private void Compact()
    {
        for (int r = 0; r < _staged.Length; r++)
        {
            int left = _count[r] - _head[r];
            if (left > 0 && _head[r] > 0) Array.Copy(_staged[r], _head[r], _staged[r], 0, left);
            _head[r] = 0;
            _count[r] = left;
        }
    }
}
