namespace Tcpq.Spans;

/// <summary>
/// At most <c>perSecond</c> new traces a second, in bursts of as many (a token bucket on the
/// kernel's clock): a storm of slow connections must not become a storm of exports. What it refuses
/// is counted (<see cref="Refused"/>: tcpq_spans_dropped_total{reason="rate-cap"}).
/// </summary>
public sealed class SpanRateCap
{
    private readonly double _perNs;
    private readonly double _burst;
    private double _tokens;
    private long _lastNs = long.MinValue;

    public SpanRateCap(int perSecond)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perSecond, 1);
        _perNs = perSecond / 1e9;
        _burst = perSecond;
        _tokens = perSecond;
    }

    public long Refused { get; private set; }

    /// <summary>Takes one token at <paramref name="nowNs"/> (monotonic), or counts a refusal.</summary>
    public bool TryTake(long nowNs)
    {
        if (_lastNs != long.MinValue && nowNs > _lastNs) _tokens = Math.Min(_burst, _tokens + (nowNs - _lastNs) * _perNs);
        if (_lastNs == long.MinValue || nowNs > _lastNs) _lastNs = nowNs;
        if (_tokens >= 1)
        {
            _tokens -= 1;
            return true;
        }
        Refused++;
        return false;
    }
}
