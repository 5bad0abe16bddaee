using Tcpq.Events;

namespace Tcpq.Top;

/// <summary>The time top paces itself by, injected so a test runs its loop without waiting.</summary>
public interface ITopClock
{
    long MonotonicNs { get; }
    /// <summary>Waits this long, or less when <paramref name="stop"/> is cancelled.</summary>
    void Sleep(TimeSpan duration, CancellationToken stop);
}

public sealed class SystemTopClock : ITopClock
{
    public static SystemTopClock Instance { get; } = new();
    public long MonotonicNs => WallClock.MonotonicNowNs();
    public void Sleep(TimeSpan duration, CancellationToken stop) => stop.WaitHandle.WaitOne(duration);
}
