using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Report;

/// <summary>
/// Reads a trace saved by <c>tcpq trace</c> in any of its formats, told apart by the first line
/// (the csv or seed header, or a JSON object), and hands each row to a sink as the
/// <see cref="TcpqEvent"/> it was written from. Streams: memory does not grow with the file.
/// <see cref="Open"/> reads the first line, so the caller knows the <see cref="Format"/> before
/// any row reaches its sink.
/// </summary>
public sealed class TraceReader : IDisposable
{
    private readonly ReasonNames _reasons = new();
    private readonly RowRanges _ranges = new();
    private readonly LineReader _lines;
    private readonly string _name;
    private readonly IRowParser? _parser;
    private readonly byte[]? _firstRow;     // a JSON trace has no header: its first line is a row
    private readonly string? _headerError;
    private readonly TcpqException? _headerFailure;

    public EventFormat Format { get; }

    private TraceReader(Stream stream, string name)
    {
        _lines = new LineReader(stream);
        _name = name;
        ReadOnlySpan<byte> first;
        try
        {
            if (!_lines.TryReadLine(out first)) first = default;
        }
        catch (TcpqException x) when (x.Code == ExitCode.BadInput)
        {
            _headerFailure = x; // a first line longer than any row: reported by ReadInto, as any bad line
            return;
        }
        if (_lines.LineNumber == 0)
        {
            _headerError = "empty: not a tcpq trace (no csv/seed header, no JSON row)";
            return;
        }
        first = StripBom(first);
        if (first.StartsWith("{"u8))
        {
            Format = EventFormat.Json;
            _parser = new JsonRowParser(_reasons);
            _firstRow = first.ToArray();
        }
        else if (first.SequenceEqual(CsvEventWriter.Header[..^1]))
        {
            Format = EventFormat.Csv;
            _parser = new CsvRowParser(seed: false, _reasons);
        }
        else if (first.SequenceEqual(CsvEventWriter.Header15[..^1]))
        {
            Format = EventFormat.Csv;
            _parser = new CsvRowParser(seed: false, _reasons, columns: 15);
        }
        else if (first.SequenceEqual(SeedEventWriter.Header[..^1]))
        {
            Format = EventFormat.Seed;
            _parser = new CsvRowParser(seed: true, _reasons);
        }
        else
        {
            _headerError = "not a tcpq trace: expected the csv or seed header (TS,Date,Action,…) or a JSON row";
        }
    }

    public static TraceReader Open(Stream stream, string name) => new(stream, name);

    /// <summary>Opens and reads all of <paramref name="stream"/> into <paramref name="sink"/>.</summary>
    public static TraceReadResult Read(Stream stream, string name, IEventSink sink, bool lenient = false)
    {
        using var reader = Open(stream, name);
        return reader.ReadInto(sink, lenient);
    }

    /// <summary>Reads every row into <paramref name="sink"/>. A bad line throws
    /// <see cref="TcpqException"/> (<see cref="ExitCode.BadInput"/>) naming the input and the line;
    /// with <paramref name="lenient"/> reading stops there instead and the result carries the
    /// message: the rows before it have reached the sink.</summary>
    public TraceReadResult ReadInto(IEventSink sink, bool lenient = false)
    {
        long rows = 0;
        try
        {
            if (_headerFailure != null) throw _headerFailure;
            if (_headerError != null) throw new RowException(_headerError);
            var e = new TcpqEvent();
            if (_firstRow != null)
            {
                ParseRow(_firstRow, ref e);
                sink.OnEvent(e);
                rows++;
            }
            while (_lines.TryReadLine(out var line))
            {
                if (line.IsEmpty) continue;
                ParseRow(line, ref e);
                sink.OnEvent(e);
                rows++;
            }
            return new TraceReadResult(Format, rows, _reasons.ToDropReasons(), null);
        }
        catch (RowException x)
        {
            return Fail($"{_name} line {Math.Max(_lines.LineNumber, 1)}: {x.Message}", rows, lenient);
        }
        catch (TcpqException x) when (x.Code == ExitCode.BadInput)
        {
            return Fail($"{_name} {x.Message}", rows, lenient);
        }
    }

    private TraceReadResult Fail(string message, long rows, bool lenient) =>
        lenient ? new TraceReadResult(Format, rows, _reasons.ToDropReasons(), message) : throw new TcpqException(ExitCode.BadInput, message);

    private void ParseRow(ReadOnlySpan<byte> line, ref TcpqEvent e)
    {
        try
        {
            _parser!.Parse(line, ref e);
        }
        catch (RowException x) when (_lines.LastLineUnterminated)
        {
            throw new RowException($"{x.Message}; the file ends in the middle of this row (truncated)");
        }
        // tcpq ends every row with a newline: without one the row may be cut at a field boundary
        // and still parse, with a wrong last value (a Wait us of 12 for 123456)
        if (_lines.LastLineUnterminated)
            throw new RowException("the file ends in the middle of this row (truncated): no newline after it");
        _ranges.Check(e, Format == EventFormat.Json);
    }

    private static ReadOnlySpan<byte> StripBom(ReadOnlySpan<byte> s) => s.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? s[3..] : s;

    public void Dispose() => _lines.Dispose();
}
