using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Tcpq.Serve.Web;

/// <summary>What one scraper, or someone who is not one, may hold of the endpoint. A scrape is one
/// small GET; Prometheus reads the answer at network speed and comes back every 15–60 s.</summary>
public static class EndpointLimits
{
    /// <summary>Connections at once, all clients together: one past it closes the oldest that is
    /// not answering a request (<see cref="ConnectionLimits"/>).</summary>
    public const int Connections = 256;
    /// <summary>Kestrel's own limit, a backstop above <see cref="Connections"/>: evicted connections
    /// take a moment to close.</summary>
    public const int ConnectionsBackstop = 2 * Connections;
    /// <summary>Connections at once from one client address (<see cref="ConnectionLimits"/>): one
    /// address cannot take every connection (8 idle ones used to stop every scrape).</summary>
    public const int ConnectionsPerClient = 16;
    /// <summary>A request's line and headers must arrive within this, once begun (slowloris).</summary>
    public static readonly TimeSpan RequestHeadersTime = TimeSpan.FromSeconds(5);
    /// <summary>A connection that sends nothing, new or between requests, is closed after this
    /// (Kestrel's keep-alive timeout covers both). Shorter than Kestrel's default of 130 s: a
    /// scraper that comes back later simply connects again.</summary>
    public static readonly TimeSpan Idle = TimeSpan.FromSeconds(20);
    /// <summary>A reader slower than this (after a grace period) is cut off: the largest expositions
    /// are ~9 MB, which this floor lets through in under 10 minutes.</summary>
    public static readonly MinDataRate SlowestReader = new(bytesPerSecond: 16 * 1024, gracePeriod: TimeSpan.FromSeconds(10));
    public const int MaxHeadersBytes = 8 * 1024;
    public const int MaxRequestLineBytes = 4 * 1024;
    public const int MaxHeaders = 32;

    public static void Apply(KestrelServerOptions kestrel)
    {
        kestrel.AddServerHeader = false;
        var limits = kestrel.Limits;
        limits.MaxConcurrentConnections = ConnectionsBackstop;
        limits.MaxConcurrentUpgradedConnections = 0;
        limits.RequestHeadersTimeout = RequestHeadersTime;
        limits.KeepAliveTimeout = Idle;
        limits.MinResponseDataRate = SlowestReader;
        limits.MaxRequestHeadersTotalSize = MaxHeadersBytes;
        limits.MaxRequestLineSize = MaxRequestLineBytes;
        limits.MaxRequestHeaderCount = MaxHeaders;
        limits.MaxRequestBodySize = 0; // a scrape has no body
        limits.MaxResponseBufferSize = 64 * 1024; // per connection, before a slow reader pushes back
    }
}
