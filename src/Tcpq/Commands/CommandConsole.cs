using Microsoft.Win32.SafeHandles;

namespace Tcpq.Commands;

/// <summary>A command's standard streams, injected (as dotnet/diagnostics injects <c>IConsole</c>)
/// so that unit tests see exactly what a user would.</summary>
public sealed class CommandConsole(Stream output, Stream error, bool outputIsTerminal, bool errorIsTerminal, Func<Stream>? openInput = null)
{
    private TextWriter? _errorText, _outText;

    /// <summary>Standard output; a write after its reader went away throws an <see cref="IOException"/> (EPIPE).</summary>
    public Stream Out { get; } = output;
    public Stream ErrorStream { get; } = error;
    /// <summary>Standard error as text, flushed at every write (messages must not wait for a buffer);
    /// every line made safe for a terminal (a comm or a path in a message, <see cref="Output.DisplayTextWriter"/>).</summary>
    public TextWriter Error => _errorText ??= Output.DisplayTextWriter.Wrap(new StreamWriter(ErrorStream, new System.Text.UTF8Encoding(false), 1024, leaveOpen: true) { AutoFlush = true });
    /// <summary>Standard output as text, flushed at every write (for --help and messages; rows go to <see cref="Out"/>).</summary>
    public TextWriter OutText => _outText ??= new StreamWriter(Out, new System.Text.UTF8Encoding(false), 1024, leaveOpen: true) { AutoFlush = true };
    public bool OutIsTerminal { get; } = outputIsTerminal;
    public bool ErrorIsTerminal { get; } = errorIsTerminal;

    public Stream OpenInput() => openInput?.Invoke() ?? Stream.Null;

    /// <summary>The process's own standard streams.</summary>
    public static CommandConsole System() => new(
        StandardOutput(), Console.OpenStandardError(),
        !Console.IsOutputRedirected, !Console.IsErrorRedirected,
        Console.OpenStandardInput);

    /// <summary>A pipe or a terminal as a raw file stream: .NET's console stream swallows EPIPE, so
    /// a command writing into <c>| head</c> would never learn that its reader has gone. A regular
    /// file keeps the console stream, which writes at the shared offset (a FileStream would pwrite
    /// at its own and overwrite stderr's lines in <c>&gt; log 2&gt;&amp;1</c>); it has no EPIPE.</summary>
    private static Stream StandardOutput()
    {
        // unbuffered: the writers buffer rows themselves and flush whole rows
        try
        {
            var raw = new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0);
            if (!raw.CanSeek) return raw;
            raw.Dispose();
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            // fd 1 closed or not writable: the console stream says so at the first write
        }
        return Console.OpenStandardOutput();
    }
}
