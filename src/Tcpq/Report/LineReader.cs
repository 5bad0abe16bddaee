using System.Buffers;

namespace Tcpq.Report;

/// <summary>Reads a stream line by line into one reused buffer: a file of any length is read in
/// bounded memory and without a string per line. Lines end at '\n'; a trailing '\r' is dropped.</summary>
public sealed class LineReader(Stream stream, int maxLineLength = 64 * 1024) : IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
    private int _start, _end;
    private bool _eof;

    /// <summary>The number of the line last returned, from 1.</summary>
    public long LineNumber { get; private set; }

    /// <summary>True when the line last returned ended at the end of the stream without a '\n'
    /// (a file cut short, or a writer stopped mid-row).</summary>
    public bool LastLineUnterminated { get; private set; }

    public bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            var pending = _buffer.AsSpan(_start, _end - _start);
            int nl = pending.IndexOf((byte)'\n');
            if (nl >= 0)
            {
                line = TrimCr(pending[..nl]);
                _start += nl + 1;
                LineNumber++;
                return true;
            }
            if (_eof)
            {
                if (pending.IsEmpty) { line = default; return false; }
                line = TrimCr(pending);
                _start = _end;
                LineNumber++;
                LastLineUnterminated = true;
                return true;
            }
            if (pending.Length >= maxLineLength)
                throw new TcpqException(ExitCode.BadInput, $"line {LineNumber + 1}: longer than {maxLineLength} bytes, not a tcpq trace");
            Fill();
        }
    }

    private void Fill()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        int n = stream.Read(_buffer, _end, _buffer.Length - _end);
        if (n == 0) _eof = true;
        _end += n;
    }

    private static ReadOnlySpan<byte> TrimCr(ReadOnlySpan<byte> s) => s.Length > 0 && s[^1] == (byte)'\r' ? s[..^1] : s;

    public void Dispose()
    {
        var b = Interlocked.Exchange(ref _buffer, []);
        if (b.Length > 0) ArrayPool<byte>.Shared.Return(b);
    }
}
