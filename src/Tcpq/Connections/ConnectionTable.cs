using System.Runtime.InteropServices;

namespace Tcpq.Connections;

/// <summary>
/// The connections being followed, at most <see cref="Capacity"/> of them. Two lists in order of
/// last event: open connections (still expecting events, among them ones reset in the accept queue
/// that accept() will yet take) and done ones (accepted or aborted, kept a little longer for late
/// events). The oldest of either is at its head, so expiry and
/// eviction cost O(1). Timelines taken out are reused: a SYN flood does not churn the heap.
/// A 4-tuple can hold several connections at once (a client that reconnects from the same port):
/// the newest is found by its key, the earlier ones hang behind it, newest first
/// (<see cref="ConnectionTimeline.Older"/>), so a reconnect costs one lookup, not one per generation.
/// </summary>
public sealed class ConnectionTable(int capacity)
{
    private readonly Dictionary<ConnectionKey, ConnectionTimeline> _byKey = new(Math.Min(capacity, 4096));
    private readonly Stack<ConnectionTimeline> _free = new();
    private readonly LruList _open = new(), _done = new();

    public int Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity));
    public int Count => _count;
    private int _count;
    public ConnectionTimeline? OldestOpen => _open.Head;
    public ConnectionTimeline? OldestDone => _done.Head;

    public ConnectionTimeline? Find(in ConnectionKey key) => _byKey.GetValueOrDefault(key);

    /// <summary>A new, empty timeline for <paramref name="key"/>; the table must have room. A
    /// timeline already held for the key becomes the new one's <see cref="ConnectionTimeline.Older"/>.</summary>
    public ConnectionTimeline Add(in ConnectionKey key)
    {
        if (Count >= Capacity) throw new InvalidOperationException("connection table full: evict first");
        var t = _free.Count > 0 ? _free.Pop() : new ConnectionTimeline();
        t.Reset(key);
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_byKey, key, out bool held);
        if (held)
        {
            t.Older = slot;
            slot!.Newer = t;
        }
        slot = t;
        _count++;
        _open.Append(t);
        return t;
    }

    /// <summary>Moves the timeline to the end of its list (open or done) after an event. One that
    /// waits for its accept after an abort stays with the open ones (see <see cref="ConnectionTimeline.Lingers"/>).</summary>
    public void Touch(ConnectionTimeline t)
    {
        (t.InDoneList ? _done : _open).Unlink(t);
        t.InDoneList = t.Lingers;
        (t.InDoneList ? _done : _open).Append(t);
    }

    /// <summary>Takes the timeline out; it is reused later, so the caller must be done with it.</summary>
    public void Remove(ConnectionTimeline t)
    {
        (t.InDoneList ? _done : _open).Unlink(t);
        if (t.Newer != null) t.Newer.Older = t.Older;
        else if (t.Older != null) _byKey[t.Key] = t.Older;
        else _byKey.Remove(t.Key);
        if (t.Older != null) t.Older.Newer = t.Newer;
        t.Older = t.Newer = null;
        _count--;
        if (_free.Count < 1024) _free.Push(t);
    }

    /// <summary>Every timeline still held, oldest first within each list (for the end of a trace).</summary>
    public List<ConnectionTimeline> All()
    {
        var all = new List<ConnectionTimeline>(Count);
        for (var t = _done.Head; t != null; t = t.Next) all.Add(t);
        for (var t = _open.Head; t != null; t = t.Next) all.Add(t);
        return all;
    }

    private sealed class LruList
    {
        public ConnectionTimeline? Head, Tail;

        public void Append(ConnectionTimeline t)
        {
            t.Prev = Tail;
            t.Next = null;
            if (Tail != null) Tail.Next = t; else Head = t;
            Tail = t;
        }

        public void Unlink(ConnectionTimeline t)
        {
            if (t.Prev != null) t.Prev.Next = t.Next; else Head = t.Next;
            if (t.Next != null) t.Next.Prev = t.Prev; else Tail = t.Prev;
            t.Prev = t.Next = null;
        }
    }
}
