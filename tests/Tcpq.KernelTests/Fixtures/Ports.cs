namespace Tcpq.KernelTests.Fixtures;

/// <summary>A listening port per test, away from the ephemeral range, unlikely to meet another test run's.</summary>
public static class Ports
{
    private static int _next = 20000 + (Environment.ProcessId * 37 % 8000);

    public static int Next() => Interlocked.Increment(ref _next);
}
