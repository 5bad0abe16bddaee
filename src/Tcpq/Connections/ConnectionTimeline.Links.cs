namespace Tcpq.Connections;

/// <summary>The application's request spans that came on the connection (issue 25): keep-alive
/// and HTTP/2 carry many requests, each in a trace of its own, on one connection.</summary>
public sealed partial class ConnectionTimeline
{
    /// <summary>Spans kept per connection; the rest are counted. OpenTelemetry's own default limit
    /// of links on one span is 128, and a connection span with thousands of links helps no one.</summary>
    public const int MaxRequestSpans = 128;

    /// <summary>Null until the first one comes, so that a trace without them keeps its timelines
    /// as small as before; kept (cleared) when the timeline is pooled again.</summary>
    public List<AppRequestSpan>? RequestSpans;
    /// <summary>Request spans past <see cref="MaxRequestSpans"/>: seen, not kept.</summary>
    public uint RequestSpansDropped;

    /// <summary>Adds one; false when past the limit (counted).</summary>
    internal bool AddRequestSpan(in AppRequestSpan span)
    {
        if (span.StartNs > LastNs) LastNs = span.StartNs; // a keep-alive connection lingers from its last request
        var list = RequestSpans ??= [];
        if (list.Count >= MaxRequestSpans)
        {
            RequestSpansDropped++;
            return false;
        }
        list.Add(span);
        return true;
    }

    private void ClearRequestSpans()
    {
        RequestSpans?.Clear();
        RequestSpansDropped = 0;
    }
}
