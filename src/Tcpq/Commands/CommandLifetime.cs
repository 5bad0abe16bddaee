using System.Runtime.InteropServices;

namespace Tcpq.Commands;

/// <summary>What the long-running commands (trace with either backend, listeners --watch) share:
/// when to stop (SIGINT, SIGTERM, --duration), where rows go, how they name the ports, and a
/// reader that went away.</summary>
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

    /// <summary>Standard output for null or "-", else the file (created or truncated).</summary>
    public static Stream OpenOutput(string? path)
    {
        if (path is null or "-") return Console.OpenStandardOutput();
        try
        {
            return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1, FileOptions.None);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TcpqException(ExitCode.Usage, $"cannot write {path}: {e.Message}");
        }
    }

    public static string PortsText(IReadOnlyList<ushort> ports) =>
        ports.Count == 0 ? "every listening port" : $"port{(ports.Count > 1 ? "s" : "")} {string.Join(", ", ports)}";

    /// <summary>The reader of our output went away (<c>| head</c>): a normal end, not an error.</summary>
    public static bool IsBrokenPipe(IOException e) =>
        e.HResult == 32 || e.Message.Contains("Broken pipe", StringComparison.OrdinalIgnoreCase);

    public void Dispose()
    {
        _sigint.Dispose();
        _sigterm.Dispose();
        _stop.Dispose();
    }
}
