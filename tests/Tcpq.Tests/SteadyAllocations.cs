namespace Tcpq.Tests;

/// <summary>
/// The bytes one batch of work allocates on this thread once it has settled: the fewest of a few
/// batches. The runtime itself allocates on the measuring thread now and then while the work's
/// methods are being promoted to their optimized tier (call counts and a timer decide when, so a
/// busy machine moves it into a measured batch: 5,576 bytes once in CI for code that allocates
/// nothing). Work that allocates in each batch still shows in every one of them, so the smallest
/// is honest about it.
/// </summary>
internal static class SteadyAllocations
{
    public static long Fewest(Action batch, int batches = 5)
    {
        long fewest = long.MaxValue;
        for (int i = 0; i < batches && fewest > 0; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            batch();
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return fewest;
    }
}
