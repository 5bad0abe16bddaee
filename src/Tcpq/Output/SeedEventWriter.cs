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
        var o = _out;
        RowFields.UInt(o, e.TsNs);
        o.Write((byte)',');
        o.Write(_dates.Second(context.Clock.ToUtc(e.TsNs)));
        o.Write((byte)',');
        o.Write(EventKinds.Utf8Name(e.Kind));
        o.Write((byte)',');
        var span = o.GetSpan(AddressText.MaxLength);
        o.Advance(AddressText.FormatSeed(e.SourceAddress, span));
        o.Write((byte)',');
        RowFields.UInt(o, e.SourcePort);
        o.Write((byte)',');
        RowFields.UInt(o, e.DestPort);
        bool queues = e.Has(EventFlags.Queues);
        o.Write((byte)',');
        if (queues) RowFields.UInt(o, e.Q0);
        o.Write((byte)',');
        if (queues) RowFields.UInt(o, e.Q);
        o.Write((byte)',');
        if (queues) RowFields.UInt(o, e.QMax);
        o.Write((byte)'\n');
        o.EndRow();
    }

    public void Flush() => _out.Flush();

    public void Dispose() => _out.Dispose();
}
