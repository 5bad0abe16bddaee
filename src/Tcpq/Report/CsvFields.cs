namespace Tcpq.Report;

/// <summary>Splits one CSV line (RFC 4180 quoting, as the csv writer quotes Comm and Reason)
/// into fields held in one reused buffer.</summary>
internal sealed class CsvFields
{
    private const int MaxFields = 32;
    private byte[] _buf = new byte[512];
    private readonly int[] _start = new int[MaxFields], _length = new int[MaxFields];

    public int Count { get; private set; }

    /// <summary>Field <paramref name="i"/>, spaces around it trimmed (the seed's DTrace output
    /// had them).</summary>
    public ReadOnlySpan<byte> this[int i] => _buf.AsSpan(_start[i], _length[i]).Trim((byte)' ');

    public void Split(ReadOnlySpan<byte> line)
    {
        if (_buf.Length < line.Length) _buf = new byte[Math.Max(line.Length, _buf.Length * 2)];
        Count = 0;
        int w = 0, i = 0;
        while (true)
        {
            if (Count == MaxFields) throw new RowException($"more than {MaxFields} fields");
            _start[Count] = w;
            if (i < line.Length && line[i] == (byte)'"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length) throw new RowException("a quoted field is not closed (truncated?)");
                    if (line[i] == (byte)'"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == (byte)'"') { _buf[w++] = (byte)'"'; i += 2; continue; }
                        i++;
                        break;
                    }
                    _buf[w++] = line[i++];
                }
                if (i < line.Length && line[i] != (byte)',') throw new RowException("text after a closing quote");
            }
            else
            {
                int comma = line[i..].IndexOf((byte)',');
                int end = comma < 0 ? line.Length : i + comma;
                line[i..end].CopyTo(_buf.AsSpan(w));
                w += end - i;
                i = end;
            }
            _length[Count] = w - _start[Count];
            Count++;
            if (i >= line.Length) return;
            i++; // the comma
        }
    }
}
