using Tcpq.Events;

namespace Tcpq.Output;

/// <summary>The default format: the seed's nine columns first, in its order, then tcpq's; the
/// application's five (issue #13) last.</summary>
public sealed class CsvEventWriter(Stream stream, EventContext context) : IEventWriter
{
    public static ReadOnlySpan<byte> Header =>
        "TS,Date,Action,Source IP,Source Port,Dest Port,Q0,Q,Qmax,Dest IP,Attempt,Wait us,PID,Comm,Reason,Bytes In,Bytes Out,Data Age us,Closed By,Reset\n"u8;

    /// <summary>The header of tcpq before first-read, first-write and close: its traces still read.</summary>
    public static ReadOnlySpan<byte> Header15 =>
        "TS,Date,Action,Source IP,Source Port,Dest Port,Q0,Q,Qmax,Dest IP,Attempt,Wait us,PID,Comm,Reason\n"u8;

    private readonly OutputBuffer _out = new(stream);
    private readonly SecondText _dates = SecondText.Iso();

    public void WriteHeader() => _out.Write(Header);

    public void Write(in TcpqEvent e)
    {
        var r = new RowSpan(_out.GetSpan(RowSpan.MaxRow));
        r.UInt(e.TsNs);
        r.Byte((byte)',');
        r.IsoDate(_dates, context.Clock.ToUtc(e.TsNs));
        r.Byte((byte)',');
        r.Bytes(EventKinds.Utf8Name(e.Kind));
        r.Byte((byte)',');
        bool tuple = EventKinds.HasTuple(e); // app-pool, app-starve, app-gc, a bare app-reject: a process, no 4-tuple
        if (tuple) r.Address(e.SourceAddress);
        r.Byte((byte)',');
        if (tuple) r.UInt(e.SourcePort);
        r.Byte((byte)',');
        if (tuple) r.UInt(e.DestPort);
        r.Byte((byte)',');
        bool queues = e.Has(EventFlags.Queues);
        if (queues) r.UInt(e.Q0);
        r.Byte((byte)',');
        if (queues) r.UInt(e.Q);
        r.Byte((byte)',');
        if (queues) r.UInt(e.QMax);
        r.Byte((byte)',');
        if (tuple) r.Address(e.DestAddress);
        r.Byte((byte)',');
        if (e.Has(EventFlags.Attempt)) r.UInt(e.Attempt);
        r.Byte((byte)',');
        if (e.Has(EventFlags.Wait)) r.UInt(e.WaitNs / 1000);
        r.Byte((byte)',');
        bool task = e.Has(EventFlags.Task);
        if (task) r.UInt(e.Pid);
        r.Byte((byte)',');
        if (task) r.CsvText(Comm16.Trimmed(e.Comm));
        r.Byte((byte)',');
        Span<byte> scratch = stackalloc byte[16];
        r.CsvText(context.Reasons.Utf8Name(e.Reason, scratch));
        r.Byte((byte)',');
        bool bytes = e.Has(EventFlags.Bytes);
        if (bytes) r.UInt(e.BytesIn);
        r.Byte((byte)',');
        if (bytes) r.UInt(e.BytesOut);
        r.Byte((byte)',');
        if (e.Has(EventFlags.DataAge)) r.UInt(e.DataAgeNs / 1000);
        r.Byte((byte)',');
        bool closer = e.Has(EventFlags.Closer);
        if (closer) r.Bytes(Closers.Utf8Name(e.Closer));
        r.Byte((byte)',');
        if (closer) r.Bytes(e.Reset != 0 ? "yes"u8 : "no"u8);
        r.Byte((byte)'\n');
        _out.Advance(r.Length);
        _out.EndRow();
    }

    public void Flush() => _out.Flush();

    public void Dispose() => _out.Dispose();
}
