using System.IO.Compression;
using System.Text;
using Tcpq.Aggregates;

namespace Tcpq.Serve;

/// <summary>One reading's exposition, rendered once as UTF-8 and gzipped at most once, shared by
/// every scraper of that reading: sixteen scrapers at once cost one rendering, not sixteen (an
/// exposition of 1100 listeners is ~9 MB of text).</summary>
public sealed class RenderedExposition(byte[] text)
{
    private byte[]? _gzip;
    private readonly object _gate = new();

    public ReadOnlyMemory<byte> Text { get; } = text;

    /// <summary>The text gzipped (for a scraper that sends Accept-Encoding: gzip), compressed by
    /// the first one that asks.</summary>
    public ReadOnlyMemory<byte> Gzip
    {
        get
        {
            lock (_gate)
            {
                if (_gzip is null)
                {
                    using var buffer = new MemoryStream(text.Length / 8 + 64);
                    using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(text);
                    _gzip = buffer.ToArray();
                }
                return _gzip;
            }
        }
    }

    /// <summary>A StringBuilder's text as UTF-8, chunk by chunk: no string of the whole (twice
    /// the bytes, as UTF-16) is ever made.</summary>
    public static byte[] Utf8(StringBuilder text)
    {
        var encoder = Encoding.UTF8.GetEncoder();
        int length = 0;
        foreach (var chunk in text.GetChunks()) length += encoder.GetByteCount(chunk.Span, flush: false);
        length += encoder.GetByteCount([], flush: true);
        encoder.Reset();
        var bytes = new byte[length];
        int at = 0;
        foreach (var chunk in text.GetChunks()) at += encoder.GetBytes(chunk.Span, bytes.AsSpan(at), flush: false);
        encoder.GetBytes([], bytes.AsSpan(at), flush: true);
        return bytes;
    }
}

/// <summary>The exposition of the latest reading: rendered when <see cref="SnapshotCache"/> hands
/// out a new reading, and under one lock, so that scrapers arriving together wait for one
/// rendering instead of each making their own.</summary>
public sealed class ExpositionCache(Func<AggregateSnapshot> read, Func<AggregateSnapshot, RenderedExposition> render)
{
    private readonly object _gate = new();
    private AggregateSnapshot? _of;
    private RenderedExposition? _last;

    public RenderedExposition Read()
    {
        lock (_gate)
        {
            var snapshot = read();
            if (_last is null || !ReferenceEquals(snapshot, _of))
            {
                _last = null; // the old one goes as soon as its scrapers are done with it
                _last = render(snapshot);
                _of = snapshot;
            }
            return _last;
        }
    }
}
