using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>What one listener's connections did inside the application (first-read, first-write,
/// close rows), counted as each timeline ends.</summary>
public sealed class ApplicationStats
{
    public long FirstReads, FirstWrites, Closes, WroteFirst, RequestsBeforeAccept, Resets, OnlyApplication;
    public long BytesIn, BytesOut;
    public readonly Dictionary<Closer, long> ClosedBy = [];
    public readonly LatencyHistogram AcceptToRead = new(), DataAge = new(), Unread = new(), BeforeAccept = new(),
        ReadToWrite = new(), Lifetime = new();

    internal void OnEnd(ConnectionTimeline t)
    {
        if (t.OnlyApplication) OnlyApplication++;
        if (t.Read) FirstReads++;
        if (t.Written) FirstWrites++;
        if (t.WroteFirst) WroteFirst++;
        if (t.AcceptToRead is ulong ar) AcceptToRead.RecordNs(ar);
        if (t.DataAge is ulong age) DataAge.RecordNs(age);
        if (t.Unread is ulong unread) Unread.RecordNs(unread);
        if (t.BeforeAccept is ulong before) { RequestsBeforeAccept++; BeforeAccept.RecordNs(before); }
        if (t.ReadToWrite is ulong rw) ReadToWrite.RecordNs(rw);
        if (t.Closed)
        {
            Closes++;
            ClosedBy[t.Closer] = ClosedBy.GetValueOrDefault(t.Closer) + 1;
            if (t.CloseReset) Resets++;
            BytesIn += (long)t.BytesIn;
            BytesOut += (long)t.BytesOut;
        }
        if (t.Lifetime is ulong life) Lifetime.RecordNs(life);
    }

    public ApplicationSummary Summary() => new(
        FirstReads, FirstWrites, Closes, WroteFirst, RequestsBeforeAccept, Resets, OnlyApplication, BytesIn, BytesOut,
        ClosedBy.OrderByDescending(c => c.Value).ToDictionary(c => Closers.Name(c.Key) is { Length: > 0 } n ? n : "unknown", c => c.Value),
        AcceptToRead.Summary(), DataAge.Summary(), Unread.Summary(), BeforeAccept.Summary(), ReadToWrite.Summary(), Lifetime.Summary());
}
