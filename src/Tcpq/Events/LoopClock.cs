namespace Tcpq.Events;

/// <summary>The time <see cref="PollLoop"/> paces itself by, injected so that a test runs a loop
/// (top's screens, say) without waiting.</summary>
public interface ILoopClock
{
    long MonotonicNs { get; }

    /// <summary>Waits this long, or less when <paramref name="stop"/> is cancelled.</summary>
    void Sleep(TimeSpan duration, CancellationToken stop);
}

public sealed class SystemLoopClock : ILoopClock
{
    public static SystemLoopClock Instance { get; } = new();

    public long MonotonicNs => WallClock.MonotonicNowNs();

    /// <summary>Rounded up to whole milliseconds: a wait that ends a little early would leave the
    /// loop spinning on a remainder too short to wait for.</summary>
    public void Sleep(TimeSpan duration, CancellationToken stop) =>
        stop.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(Math.Ceiling(duration.TotalMilliseconds)));
}
