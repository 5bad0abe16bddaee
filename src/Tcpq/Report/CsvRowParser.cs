using Tcpq.Events;

namespace Tcpq.Report;

/// <summary>Rows of <c>tcpq trace --format csv</c> (20 columns, or 15 from a tcpq before
/// first-read/first-write/close) or <c>--format seed</c> (the first nine, Source IP as
/// <c>0x%08x</c>) back into events. A column left empty leaves its
/// flag unset, as it was in the event. Neither format has the network namespace: it is 0.</summary>
internal sealed class CsvRowParser(bool seed, ReasonNames reasons, int columns = 20) : IRowParser
{
    private readonly CsvFields _fields = new();
    private readonly int _columns = seed ? 9 : columns;

    public void Parse(ReadOnlySpan<byte> line, ref TcpqEvent e)
    {
        var f = _fields;
        f.Split(line);
        if (f.Count != _columns)
            throw new RowException(f.Count < _columns
                ? $"{f.Count} fields, expected {_columns} (truncated?)"
                : $"{f.Count} fields, expected {_columns}");
        e = default;
        e.TsNs = FieldParsers.U64(f[0], "TS");
        if (f[1].IsEmpty) throw FieldParsers.Bad("Date", f[1]);
        e.Kind = FieldParsers.Kind(f[2]);
        bool tuple = !EventKinds.IsProcessWide(e.Kind) // app-pool, app-starve, app-gc, and an app-reject by its process: empty 4-tuple
            && !(EventKinds.MayBeProcessWide(e.Kind) && f[3].IsEmpty && f[4].IsEmpty && f[5].IsEmpty);
        if (!tuple) FieldParsers.Empty(f[3], f[4], f[5], f[9]);
        else if (seed) FieldParsers.SeedAddress(f[3], ref e.SourceAddress);
        else FieldParsers.Address(f[3], ref e.SourceAddress, "Source IP");
        if (tuple) e.SourcePort = FieldParsers.Port(f[4], "Source Port");
        if (tuple) e.DestPort = FieldParsers.Port(f[5], "Dest Port");
        int queues = (f[6].IsEmpty ? 0 : 1) + (f[7].IsEmpty ? 0 : 1) + (f[8].IsEmpty ? 0 : 1);
        if (queues == 3)
        {
            e.Q0 = FieldParsers.U32(f[6], "Q0");
            e.Q = FieldParsers.U32(f[7], "Q");
            e.QMax = FieldParsers.U32(f[8], "Qmax");
            e.Flags |= EventFlags.Queues;
        }
        else if (queues != 0) throw new RowException("Q0, Q and Qmax must be all set or all empty");
        if (seed) return;

        if (tuple) FieldParsers.Address(f[9], ref e.DestAddress, "Dest IP");
        if (!f[10].IsEmpty) { e.Attempt = FieldParsers.U32(f[10], "Attempt"); e.Flags |= EventFlags.Attempt; }
        if (!f[11].IsEmpty) { e.WaitNs = FieldParsers.MicrosToNs(FieldParsers.U64(f[11], "Wait us"), "Wait us"); e.Flags |= EventFlags.Wait; }
        if (!f[12].IsEmpty)
        {
            e.Pid = FieldParsers.U32(f[12], "PID");
            e.Comm = Comm16.From(_fields[13]);
            e.Flags |= EventFlags.Task;
        }
        e.Reason = reasons.Parse(f[14]);
        if (_columns < 20) return;

        int bytes = (f[15].IsEmpty ? 0 : 1) + (f[16].IsEmpty ? 0 : 1);
        if (bytes == 2)
        {
            e.BytesIn = FieldParsers.U64(f[15], "Bytes In");
            e.BytesOut = FieldParsers.U64(f[16], "Bytes Out");
            e.Flags |= EventFlags.Bytes;
        }
        else if (bytes != 0) throw new RowException("Bytes In and Bytes Out must be both set or both empty");
        if (!f[17].IsEmpty) { e.DataAgeNs = FieldParsers.MicrosToNs(FieldParsers.U64(f[17], "Data Age us"), "Data Age us"); e.Flags |= EventFlags.DataAge; }
        if (!f[18].IsEmpty || !f[19].IsEmpty)
        {
            if (!Closers.TryParse(f[18], out e.Closer)) throw FieldParsers.Bad("Closed By", f[18]);
            e.Reset = f[19].SequenceEqual("yes"u8) ? (byte)1 : f[19].SequenceEqual("no"u8) ? (byte)0 : throw FieldParsers.Bad("Reset", f[19]);
            e.Flags |= EventFlags.Closer;
        }
    }
}
