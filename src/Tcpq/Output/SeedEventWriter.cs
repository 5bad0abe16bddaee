using Tcpq.Events;

namespace Tcpq.Output;

/// <summary>The seed DTrace script's nine columns and formats exactly, for parsers of its output:
/// <c>%Y</c> dates (<c>2016 Aug 11 14:37:02</c>, <c>2016 Aug  3 14:37:02</c>, UTC) and the source address as <c>0x%08x</c>.</summary>
public sealed class SeedEventWriter(Stream stream, EventContext context) : IEventWriter
{
    public static ReadOnlySpan<byte> Header => "TS,Date,Action,Source IP,Source Port,Dest Port,Q0,Q,Qmax\n"u8;

    private readonly OutputBuffer _out = new(stream);
    private readonly SecondText _dates = new("yyyy MMM dd HH:mm:ss");

    public void WriteHeader() => _out.Write(Header);

    public void Write(in TcpqEvent e)
    {
        if (EventKinds.IsDotnet(e.Kind)) return; // the seed's readers know only the kernel's actions
        var r = new RowSpan(_out.GetSpan(RowSpan.MaxRow));
        r.UInt(e.TsNs);
        r.Byte((byte)',');
        r.Bytes(_dates.Second(context.Clock.ToUtc(e.TsNs)));
        r.Byte((byte)',');
        r.Bytes(EventKinds.Utf8Name(e.Kind));
        r.Byte((byte)',');
        r.SeedAddress(e.SourceAddress);
        r.Byte((byte)',');
        r.UInt(e.SourcePort);
        r.Byte((byte)',');
        r.UInt(e.DestPort);
        bool queues = e.Has(EventFlags.Queues);
        r.Byte((byte)',');
        if (queues) r.UInt(e.Q0);
        r.Byte((byte)',');
        if (queues) r.UInt(e.Q);
        r.Byte((byte)',');
        if (queues) r.UInt(e.QMax);
        r.Byte((byte)'\n');
        _out.Advance(r.Length);
        _out.EndRow();
    }

    public void Flush() => _out.Flush();

    public void Dispose() => _out.Dispose();
}
