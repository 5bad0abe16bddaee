namespace Tcpq.Serve;

/// <summary>Says when pushes fail, as they fail, and at most once a minute however often they do
/// (a collector that is down for a day is 60 lines a hour of the same thing, not 5760); says once
/// when they work again. The clock is injected for tests.</summary>
public sealed class PushFailureReport(string what, TextWriter messages, Func<DateTime>? clock = null)
{
    public static readonly TimeSpan Every = TimeSpan.FromMinutes(1);

    private readonly Func<DateTime> _now = clock ?? (() => DateTime.UtcNow);
    private readonly object _gate = new();
    private DateTime? _saidAt;
    private int _unsaid;
    private bool _failing;

    public long Failures { get; private set; }

    public void Failed(string? reason)
    {
        lock (_gate)
        {
            Failures++;
            _failing = true;
            var now = _now();
            if (_saidAt is DateTime at && now - at < Every) { _unsaid++; return; }
            string more = _unsaid > 0 ? $" ({_unsaid} more failed since the last message)" : "";
            messages.WriteLine($"tcpq: {what} failed{(reason is null ? "" : $": {reason}")}{more}; retrying every interval, said at most once a minute");
            _saidAt = now;
            _unsaid = 0;
        }
    }

    public void Succeeded()
    {
        lock (_gate)
        {
            if (!_failing) return;
            _failing = false;
            messages.WriteLine($"tcpq: {what} works again{(_unsaid > 0 ? $" ({_unsaid} more had failed since the last message)" : "")}");
            _unsaid = 0;
            _saidAt = null;
        }
    }
}
