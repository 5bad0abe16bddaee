using System.Buffers;

namespace Tcpq.Output;

/// <summary>A pooled byte buffer in front of a stream: rows are formatted straight into it and
/// written out in large chunks, so writing an event allocates nothing.</summary>
public sealed class OutputBuffer : IBufferWriter<byte>, IDisposable
{
    private readonly Stream _stream;
    private byte[] _buffer;
    private int _count;
    private const int FlushThreshold = 48 * 1024;

    public OutputBuffer(Stream stream, int capacity = 64 * 1024)
    {
        _stream = stream;
        _buffer = ArrayPool<byte>.Shared.Rent(capacity);
    }

    public void Advance(int count) => _count += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_count);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_count);
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        _count += bytes.Length;
    }

    public void Write(byte b)
    {
        GetSpan(1)[0] = b;
        _count++;
    }

    /// <summary>Ends a row: hands full chunks to the stream, keeps the rest for the next flush.</summary>
    public void EndRow()
    {
        if (_count >= FlushThreshold) WriteOut();
    }

    public void Flush()
    {
        WriteOut();
        _stream.Flush();
    }

    private void WriteOut()
    {
        if (_count == 0) return;
        _stream.Write(_buffer, 0, _count);
        _count = 0;
    }

    private void Ensure(int sizeHint)
    {
        if (sizeHint < 1) sizeHint = 256;
        if (_buffer.Length - _count >= sizeHint) return;
        WriteOut();
        if (_buffer.Length >= sizeHint) return;
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = ArrayPool<byte>.Shared.Rent(sizeHint);
    }

    public void Dispose()
    {
        var b = Interlocked.Exchange(ref _buffer, []);
        if (b.Length > 0) ArrayPool<byte>.Shared.Return(b);
    }
}
