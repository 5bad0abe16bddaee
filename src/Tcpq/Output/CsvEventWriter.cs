using Tcpq.Events;

namespace Tcpq.Output;

/// <summary>The default format: the seed's nine columns first, in its order, then tcpq's.</summary>
public sealed class CsvEventWriter(Stream stream, EventContext context) : IEventWriter
{
    public static ReadOnlySpan<byte> Header =>
        "TS,Date,Action,Source IP,Source Port,Dest Port,Q0,Q,Qmax,Dest IP,Attempt,Wait us,PID,Comm,Reason\n"u8;

    private readonly OutputBuffer _out = new(stream);
    private readonly SecondText _dates = SecondText.Iso();

    public void WriteHeader() => _out.Write(Header);

    public void Write(in TcpqEvent e)
    {
        var o = _out;
        RowFields.UInt(o, e.TsNs);
        o.Write((byte)',');
        RowFields.IsoDate(o, _dates, context.Clock.ToUtc(e.TsNs));
        o.Write((byte)',');
        o.Write(EventKinds.Utf8Name(e.Kind));
        o.Write((byte)',');
        RowFields.Address(o, e.SourceAddress);
        o.Write((byte)',');
        RowFields.UInt(o, e.SourcePort);
        o.Write((byte)',');
        RowFields.UInt(o, e.DestPort);
        o.Write((byte)',');
        bool queues = e.Has(EventFlags.Queues);
        if (queues) RowFields.UInt(o, e.Q0);
        o.Write((byte)',');
        if (queues) RowFields.UInt(o, e.Q);
        o.Write((byte)',');
        if (queues) RowFields.UInt(o, e.QMax);
        o.Write((byte)',');
        RowFields.Address(o, e.DestAddress);
        o.Write((byte)',');
        if (e.Has(EventFlags.Attempt)) RowFields.UInt(o, e.Attempt);
        o.Write((byte)',');
        if (e.Has(EventFlags.Wait)) RowFields.UInt(o, e.WaitNs / 1000);
        o.Write((byte)',');
        bool task = e.Has(EventFlags.Task);
        if (task) RowFields.UInt(o, e.Pid);
        o.Write((byte)',');
        if (task) RowFields.CsvText(o, RowFields.Comm(e.Comm));
        o.Write((byte)',');
        Span<byte> scratch = stackalloc byte[16];
        RowFields.CsvText(o, context.Reasons.Utf8Name(e.Reason, scratch));
        o.Write((byte)'\n');
        o.EndRow();
    }

    public void Flush() => _out.Flush();

    public void Dispose() => _out.Dispose();
}
