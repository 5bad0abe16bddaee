namespace Tcpq.Commands;

/// <summary>Starting what needs eBPF, in every verb that also offers <c>--backend diag</c>.</summary>
internal static class EbpfStart
{
    /// <summary>Where eBPF cannot be used, says why and names the way that needs none.</summary>
    public static T OrSuggestDiag<T>(Func<T> start)
    {
        try
        {
            return start();
        }
        catch (TcpqException e) when (e.Code is ExitCode.NoPermission or ExitCode.NoBtf or ExitCode.UnsupportedKernel)
        {
            throw new TcpqException(e.Code, $"{e.Message}; without eBPF, try --backend diag (sampled)", e);
        }
    }
}
