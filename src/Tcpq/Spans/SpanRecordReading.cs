using Tcpq.Aggregates;
using Tcpq.Bpf;
using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Spans;

/// <summary>
/// A kernel record of counting mode (<see cref="SpanRecord"/>) read as a <see cref="ConnectionSpan"/>:
/// what counting mode knows of the connection, in the kernel's clock. What it does not know stays 0
/// (the first read and write: serve hooks no syscall of the application). Drops are known by their
/// number, not each one's time: a "syn-drop" event at the first SYN, and a "syn-retry" event when
/// the SYN that got in completed its handshake.
/// </summary>
public static class SpanRecordReading
{
    /// <summary>Fills <paramref name="span"/> (reset first) from <paramref name="record"/>.</summary>
    /// <param name="prior">The same connection's earlier record that became a trace (its handshake),
    /// when this one continues it: its first SYN and drops are that record's.</param>
    public static void Fill(ConnectionSpan span, in SpanRecord record, System.Diagnostics.ActivityTraceId traceId, in SpanRecord? prior = null)
    {
        span.Reset();
        span.TraceId = traceId;
        span.Key = KeyOf(record);
        span.FirstSynNs = prior is { FirstSynNs: > 0 } p ? p.FirstSynNs : record.FirstSynNs;
        span.EstablishedNs = record.EstablishedNs;
        span.AcceptNs = record.Kind == SpanRecordKind.Accepted ? record.EndNs : 0;
        span.EndNs = record.EndNs;
        if (record.Kind == SpanRecordKind.Accepted)
        {
            span.Pid = record.Pid;
            span.Comm = Comm16.Text(record.Comm);
        }
        if (record.Kind == SpanRecordKind.Aborted)
        {
            span.Aborted = true;
            span.AbortReason = AbortReason(record.Abort) is { } reason ? DropReasons.Empty.Name(reason) : null;
            if (span.AbortReason == "peer-reset") span.Events.Add(new("reset", record.EndNs, span.AbortReason));
        }
        if (record.Kind == SpanRecordKind.Dropped)
        {
            // never got in: from its first SYN to its last, both dropped, and nothing after
            span.Aborted = true;
            span.AbortReason = "syn-dropped";
            span.Events.Add(new("syn-drop", record.FirstSynNs, null, 1));
            if (record.SynDrops > 1) span.Events.Add(new("syn-drop", record.EndNs, null, record.SynDrops));
            return;
        }
        if (prior is not null) return; // the handshake's events are in the trace already
        if (record.SynDrops > 0)
        {
            span.Events.Add(new("syn-drop", span.FirstSynNs, null, 1));
            span.Events.Add(new("syn-retry", record.EstablishedNs, null, record.SynDrops + 1));
        }
        else if (record.SynAckRetransmits > 0)
        {
            span.Events.Add(new("synack-retransmit", record.EstablishedNs, null, record.SynAckRetransmits));
        }
    }

    /// <summary>The connection: its namespace and 4-tuple, the client as source.</summary>
    public static ConnectionKey KeyOf(in SpanRecord record) =>
        new(record.NetNs, record.Client, record.ClientPort, record.Local, record.Port);

    /// <summary>Its listener, as counting mode's series name it (the slot's address: a wildcard
    /// listener's connections are under 0.0.0.0 or ::).</summary>
    public static ListenerKey ListenerOf(in SpanRecord record) => new(record.NetNs, record.Listener, record.Port);

    /// <summary>The DropReasons code of an abort's kernel counter (enum tcpq_counter).</summary>
    public static uint? AbortReason(ushort counter) =>
        counter < KernelCounters.CounterRows.Length && KernelCounters.CounterRows[counter] is { Kind: EventKind.Abort } row ? row.Reason : null;
}
