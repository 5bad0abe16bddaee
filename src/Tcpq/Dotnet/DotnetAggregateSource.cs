using Tcpq.Aggregates;
using Tcpq.Events;

namespace Tcpq.Dotnet;

/// <summary>
/// A source's readings with the .NET processes behind its listeners in them (--dotnet), so that
/// every consumer of a snapshot has them with the same reading: serve's tcpq_dotnet_* (Prometheus
/// and OTLP), top's line per process and its diagnosis. Joining starts when this is made; auto
/// looks again for processes that began to listen every <see cref="RescanEvery"/>, at a read.
/// Owns the inner source.
/// </summary>
public sealed class DotnetAggregateSource : IAggregateSource
{
    /// <summary>How often auto looks for .NET processes that began to listen since (the docs say 5 s).</summary>
    public static readonly TimeSpan RescanEvery = TimeSpan.FromSeconds(5);

    private readonly IAggregateSource _inner;
    private readonly DotnetWatch _watch;
    private long _nextRescanNs;

    /// <param name="messages">Where what happened to the sessions is said (serve: standard error;
    /// top's live screen: nowhere, its line under the table says it).</param>
    public DotnetAggregateSource(IAggregateSource inner, DotnetTarget target, IReadOnlyList<ushort> ports, TextWriter messages)
    {
        _inner = inner;
        _watch = new DotnetWatch(target, ports, messages);
        _watch.Start();
        _nextRescanNs = WallClock.MonotonicNowNs() + RescanEvery.Ticks * 100;
    }

    public DropReasons Reasons => _inner.Reasons;

    public AggregateSnapshot Read()
    {
        long now = WallClock.MonotonicNowNs();
        if (now >= _nextRescanNs)
        {
            _watch.Rescan();
            _nextRescanNs = now + RescanEvery.Ticks * 100;
        }
        var apps = _watch.Read();
        return _inner.Read() with { Apps = apps };
    }

    public void Dispose()
    {
        _watch.Dispose();
        _inner.Dispose();
    }
}
