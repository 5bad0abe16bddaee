namespace Tcpq.Commands;

/// <summary>Where a command's rows go: standard output (for no path or "-") or a file. A file is
/// checked (opened for writing) before anything touches the kernel, but emptied only by
/// <see cref="Begin"/>, once tracing is live: a bad invocation or a failed start never truncates it
/// (and a file it created for nothing is removed again).</summary>
public sealed class RowOutput : IDisposable
{
    private readonly FileStream? _file;
    private readonly bool _created;
    private bool _begun;

    public Stream Stream { get; }
    public string? Path { get; }
    public bool IsStandardOutput => _file is null;

    private RowOutput(Stream stream, FileStream? file, string? path, bool created)
    {
        Stream = stream;
        _file = file;
        Path = path;
        _created = created;
    }

    public static RowOutput Open(string? path, CommandConsole console)
    {
        if (path is null or "-") return new RowOutput(console.Out, null, null, false);
        bool existed = File.Exists(path);
        try
        {
            var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read, 1, FileOptions.None);
            return new RowOutput(file, file, path, !existed);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TcpqException(ExitCode.Usage, $"cannot write {path}: {FileProblem.Describe(path, e)}");
        }
    }

    /// <summary>The rows start: a regular file is emptied now (a device such as /dev/null, or a
    /// FIFO, has nothing to empty and cannot be truncated).</summary>
    public void Begin()
    {
        _begun = true;
        if (_file is { CanSeek: true } && _file.Length > 0) _file.SetLength(0);
    }

    public void Dispose()
    {
        if (_file is null) return;
        _file.Dispose();
        if (!_begun && _created)
        {
            try { File.Delete(_file.Name); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* it stays empty */ }
        }
    }
}
