using System.Runtime.InteropServices;
using Tcpq.Interop;

namespace Tcpq.Commands;

/// <summary>When a long-running command (trace with either backend, listeners --watch) stops:
/// SIGINT, SIGTERM, --duration, or the reader of its output going away.</summary>
internal sealed class CommandLifetime : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly PosixSignalRegistration _sigint, _sigterm;

    public CommandLifetime(double? durationSeconds = null)
    {
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        if (durationSeconds is double d) _stop.CancelAfter(TimeSpan.FromSeconds(d));
    }

    public bool Stopping => _stop.IsCancellationRequested;
    public CancellationToken Token => _stop.Token;

    private void Stop(PosixSignalContext c)
    {
        c.Cancel = true; // we end cleanly ourselves
        _stop.Cancel();
    }

    /// <summary>Runs <paramref name="work"/>; returns true when it ended because the reader of
    /// our output went away (<c>| head</c>): a normal end, not an error.</summary>
    public static bool UntilReaderGoes(Action work)
    {
        try
        {
            work();
            return false;
        }
        catch (IOException e) when (IsBrokenPipe(e))
        {
            return true;
        }
    }

    /// <summary>A write to a pipe whose reader has closed fails with EPIPE (.NET ignores SIGPIPE);
    /// the IOException carries the errno as its HResult.</summary>
    public static bool IsBrokenPipe(IOException e) => e.HResult == Errno.EPIPE;

    public void Dispose()
    {
        _sigint.Dispose();
        _sigterm.Dispose();
        _stop.Dispose();
    }
}
