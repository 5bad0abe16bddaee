using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Report;

/// <summary>What was read: the format, the rows, the reason names met, and the first bad line
/// when reading stopped early (only with lenient reading; otherwise that is an exception).</summary>
public sealed record TraceReadResult(EventFormat Format, long Rows, DropReasons Reasons, string? Error);

/// <summary>
/// Reads a trace saved by <c>tcpq trace</c> in any of its formats, told apart by the first line
/// (the csv or seed header, or a JSON object), and hands each row to a sink as the
/// <see cref="TcpqEvent"/> it was written from. Streams: memory does not grow with the file.
/// </summary>
public static class TraceReader
{
    private static ReadOnlySpan<byte> SeedHeader => "TS,Date,Action,Source IP,Source Port,Dest Port,Q0,Q,Qmax"u8;

    /// <summary>Reads all of <paramref name="stream"/> into <paramref name="sink"/>. A bad line
    /// throws <see cref="TcpqException"/> (<see cref="ExitCode.BadInput"/>) naming
    /// <paramref name="name"/> and the line; with <paramref name="lenient"/> reading stops there
    /// instead and the result carries the message: the rows before it have reached the sink.</summary>
    public static TraceReadResult Read(Stream stream, string name, IEventSink sink, bool lenient = false)
    {
        var reasons = new ReasonNames();
        using var lines = new LineReader(stream);
        long rows = 0;
        var format = EventFormat.Csv;
        try
        {
            if (!lines.TryReadLine(out var first))
                throw new RowException("empty: not a tcpq trace (no csv/seed header, no JSON row)");
            first = StripBom(first);
            IRowParser parser;
            var e = new TcpqEvent();
            if (first.StartsWith("{"u8))
            {
                format = EventFormat.Json;
                parser = new JsonRowParser(reasons);
                ParseRow(parser, first, lines, ref e);
                sink.OnEvent(e);
                rows++;
            }
            else if (first.SequenceEqual(CsvEventWriter.Header[..^1]))
            {
                parser = new CsvRowParser(seed: false, reasons);
            }
            else if (first.SequenceEqual(SeedHeader))
            {
                format = EventFormat.Seed;
                if (sink is Connections.ConnectionTracker tracker) tracker.InferDropsFromQueues = true;
                parser = new CsvRowParser(seed: true, reasons);
            }
            else
            {
                throw new RowException("not a tcpq trace: expected the csv or seed header (TS,Date,Action,…) or a JSON row");
            }

            while (lines.TryReadLine(out var line))
            {
                if (line.IsEmpty) continue;
                ParseRow(parser, line, lines, ref e);
                sink.OnEvent(e);
                rows++;
            }
            return new TraceReadResult(format, rows, reasons.ToDropReasons(), null);
        }
        catch (RowException x)
        {
            string message = $"{name} line {Math.Max(lines.LineNumber, 1)}: {x.Message}";
            if (!lenient) throw new TcpqException(ExitCode.BadInput, message);
            return new TraceReadResult(format, rows, reasons.ToDropReasons(), message);
        }
        catch (TcpqException x) when (x.Code == ExitCode.BadInput)
        {
            string message = $"{name} {x.Message}";
            if (!lenient) throw new TcpqException(ExitCode.BadInput, message);
            return new TraceReadResult(format, rows, reasons.ToDropReasons(), message);
        }
    }

    private static void ParseRow(IRowParser parser, ReadOnlySpan<byte> line, LineReader lines, ref TcpqEvent e)
    {
        try
        {
            parser.Parse(line, ref e);
        }
        catch (RowException x) when (lines.LastLineUnterminated)
        {
            throw new RowException($"{x.Message}; the file ends in the middle of this row (truncated)");
        }
        // tcpq ends every row with a newline: without one the row may be cut at a field boundary
        // and still parse, with a wrong last value (a Wait us of 12 for 123456)
        if (lines.LastLineUnterminated)
            throw new RowException("the file ends in the middle of this row (truncated): no newline after it");
    }

    private static ReadOnlySpan<byte> StripBom(ReadOnlySpan<byte> s) => s.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? s[3..] : s;
}
