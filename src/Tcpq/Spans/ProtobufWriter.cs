using System.Buffers.Binary;
using System.Text;

namespace Tcpq.Spans;

/// <summary>
/// Protocol Buffers' wire format written forward into one byte array kept from request to request:
/// tags, varints, fixed64/fixed32, length-delimited strings, bytes and embedded messages. An
/// embedded message's length is known only once its body is written, so <see cref="Begin"/>
/// reserves room for it and <see cref="End"/> writes it, moving the body when the length took
/// more or fewer bytes than reserved: every length is canonical (the shortest varint), as any
/// decoder expects. Nothing is allocated once the array has grown to a request's size.
/// </summary>
internal sealed class ProtobufWriter
{
    private const int Varint = 0, Fixed64 = 1, Len = 2, Fixed32 = 5;

    private byte[] _buffer;
    private int _position;

    public ProtobufWriter(int capacity, int start)
    {
        _buffer = new byte[Math.Max(capacity, start + 64)];
        _position = start;
    }

    public byte[] Buffer => _buffer;
    public int Position => _position;

    /// <summary>Writing starts again at <paramref name="start"/> (what is before it is the caller's).</summary>
    public void Reset(int start) => _position = start;

    public void VarintField(int field, ulong value)
    {
        Tag(field, Varint);
        WriteVarint(value);
    }

    public void Fixed64Field(int field, ulong value)
    {
        Tag(field, Fixed64);
        Room(8);
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.AsSpan(_position), value);
        _position += 8;
    }

    public void Fixed32Field(int field, uint value)
    {
        Tag(field, Fixed32);
        Room(4);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_position), value);
        _position += 4;
    }

    public void BytesField(int field, ReadOnlySpan<byte> bytes)
    {
        Tag(field, Len);
        WriteVarint((ulong)bytes.Length);
        Room(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_position));
        _position += bytes.Length;
    }

    /// <summary>A string field, UTF-8, encoded straight into the buffer.</summary>
    public void StringField(int field, string text)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        Tag(field, Len);
        if (text.Length < 128 / 3) // at most 127 bytes: the length is one byte, written after
        {
            Room(1 + max);
            int n = Encoding.UTF8.GetBytes(text, _buffer.AsSpan(_position + 1));
            _buffer[_position] = (byte)n;
            _position += 1 + n;
            return;
        }
        int bytes = Encoding.UTF8.GetByteCount(text);
        WriteVarint((ulong)bytes);
        Room(bytes);
        _position += Encoding.UTF8.GetBytes(text, _buffer.AsSpan(_position));
    }

    /// <summary>Room for at least <paramref name="bytes"/> more bytes, written by the caller through
    /// <see cref="Free"/> and <see cref="Advance"/>.</summary>
    public Span<byte> Free(int bytes)
    {
        Room(bytes);
        return _buffer.AsSpan(_position);
    }

    public void Advance(int bytes) => _position += bytes;

    /// <summary>Starts embedded message <paramref name="field"/>: its tag, and
    /// <paramref name="reserve"/> bytes for its length (1: under 128 bytes expected; 2: under 16 KiB).
    /// The token goes to <see cref="End"/>.</summary>
    public int Begin(int field, int reserve = 1)
    {
        Tag(field, Len);
        Room(reserve);
        _position += reserve;
        return _position << 3 | reserve;
    }

    /// <summary>Ends the message <see cref="Begin"/> started: its length in front of its body.</summary>
    public void End(int token)
    {
        int body = token >> 3, reserved = token & 7;
        int length = _position - body;
        int needed = VarintSize((ulong)length);
        if (needed != reserved)
        {
            Room(needed - reserved);
            _buffer.AsSpan(body, length).CopyTo(_buffer.AsSpan(body + needed - reserved));
            body += needed - reserved;
            _position += needed - reserved;
        }
        int at = body - needed;
        ulong v = (ulong)length;
        while (v >= 0x80)
        {
            _buffer[at++] = (byte)(v | 0x80);
            v >>= 7;
        }
        _buffer[at] = (byte)v;
    }

    /// <summary>Bytes already in wire format (a message written once and kept).</summary>
    public void Raw(ReadOnlySpan<byte> bytes)
    {
        Room(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_position));
        _position += bytes.Length;
    }

    public static int VarintSize(ulong v)
    {
        int n = 1;
        while (v >= 0x80) { v >>= 7; n++; }
        return n;
    }

    /// <summary>A varint into <paramref name="to"/>; the bytes written.</summary>
    public static int WriteVarint(Span<byte> to, ulong v)
    {
        int n = 0;
        while (v >= 0x80)
        {
            to[n++] = (byte)(v | 0x80);
            v >>= 7;
        }
        to[n++] = (byte)v;
        return n;
    }

    private void Tag(int field, int wireType) => WriteVarint((ulong)(field << 3 | wireType));

    private void WriteVarint(ulong v)
    {
        Room(10);
        _position += WriteVarint(_buffer.AsSpan(_position), v);
    }

    private void Room(int bytes)
    {
        if (_position + bytes <= _buffer.Length) return;
        Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _position + bytes));
    }
}
