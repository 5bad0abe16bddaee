using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Report;

/// <summary>
/// Reads a trace saved by <c>tcpq trace</c> in any of its formats, told apart by the first line
/// (the csv or seed header, or a JSON object), and hands each row to its sink as the
/// <see cref="TcpqEvent"/> it was written from: an <see cref="IEventSource"/> that ends with the
/// file. Streams: memory does not grow with the file. <see cref="Open"/> reads the first line
/// only, so the caller knows the <see cref="Format"/> before any row reaches the sink.
/// </summary>
public sealed class TraceReader : IEventSource
{
    /// <summary>Rows handed on per pump: a loop between pumps sees a stop request soon.</summary>
    private const int RowsPerPump = 4096;

    private readonly ReasonNames _reasons = new();
    private readonly RowRanges _ranges = new();
    private readonly LineReader _lines;
    private readonly string _name;
    private readonly IEventSink _sink;
    private readonly bool _lenient;
    private readonly IRowParser? _parser;
    private byte[]? _firstRow;     // a JSON trace has no header: its first line is a row
    private readonly string? _headerError;
    private readonly TcpqException? _headerFailure;
    private TcpqEvent _row;
    private long _rows;
    private string? _error;

    public EventFormat Format { get; }

    /// <summary>The whole file has been read, or reading stopped at a bad line (lenient).</summary>
    public bool Ended { get; private set; }

    /// <summary>Rows that could not be read are an error (or, lenient, the end), never lost unseen.</summary>
    public ulong Lost => 0;

    /// <summary>What was read so far; once <see cref="Ended"/>, what the file held.</summary>
    public TraceReadResult Result => new(Format, _rows, _reasons.ToDropReasons(), _error);

    private TraceReader(Stream stream, string name, IEventSink sink, bool lenient)
    {
        _lines = new LineReader(stream);
        _name = name;
        _sink = sink;
        _lenient = lenient;
        ReadOnlySpan<byte> first;
        try
        {
            if (!_lines.TryReadLine(out first)) first = default;
        }
        catch (TcpqException x) when (x.Code == ExitCode.BadInput)
        {
            _headerFailure = x; // a first line longer than any row: reported by the first pump, as any bad line
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

    /// <param name="lenient">At a bad line, end there (the rows before it were handed on, and
    /// <see cref="Result"/> carries the message) instead of throwing.</param>
    public static TraceReader Open(Stream stream, string name, IEventSink sink, bool lenient = false) => new(stream, name, sink, lenient);

    /// <summary>Opens and reads all of <paramref name="stream"/> into <paramref name="sink"/>.</summary>
    public static TraceReadResult Read(Stream stream, string name, IEventSink sink, bool lenient = false)
    {
        using var reader = Open(stream, name, sink, lenient);
        new PollLoop(TimeSpan.Zero, CancellationToken.None).Pump(reader).Run(); // to its end, without pause
        return reader.Result;
    }

    /// <summary>Hands on the next rows (a batch); a file never makes it wait for more. A bad line
    /// throws <see cref="TcpqException"/> (<see cref="ExitCode.BadInput"/>) naming the input and
    /// the line, or, lenient, ends the reading there.</summary>
    public int Pump(TimeSpan wait)
    {
        if (Ended) return 0;
        int handed = 0;
        try
        {
            if (_headerFailure != null) throw _headerFailure;
            if (_headerError != null) throw new RowException(_headerError);
            if (_firstRow != null)
            {
                ParseRow(_firstRow, ref _row);
                _firstRow = null;
                Hand(ref handed);
            }
            while (handed < RowsPerPump)
            {
                if (!_lines.TryReadLine(out var line))
                {
                    Ended = true;
                    break;
                }
                if (line.IsEmpty) continue;
                ParseRow(line, ref _row);
                Hand(ref handed);
            }
        }
        catch (RowException x)
        {
            Fail($"{_name} line {Math.Max(_lines.LineNumber, 1)}: {x.Message}");
        }
        catch (TcpqException x) when (x.Code == ExitCode.BadInput)
        {
            Fail($"{_name} {x.Message}");
        }
        return handed;
    }

    private void Hand(ref int handed)
    {
        _sink.OnEvent(in _row);
        _rows++;
        handed++;
    }

    private void Fail(string message)
    {
        if (!_lenient) throw new TcpqException(ExitCode.BadInput, message);
        _error = message;
        Ended = true;
    }

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
