namespace Tcpq;

/// <summary>Why a file given on the command line cannot be opened, in the words of the shell
/// ("no such file or directory", "permission denied", "is a directory"), instead of .NET's
/// (a directory opened as a file is "Access to the path … is denied").</summary>
public static class FileProblem
{
    public static string Describe(string path, Exception e) => e switch
    {
        _ when Directory.Exists(path) => "it is a directory",
        FileNotFoundException or DirectoryNotFoundException => "no such file or directory",
        UnauthorizedAccessException => "permission denied",
        _ => e.Message.ReplaceLineEndings(" ").TrimEnd('.'),
    };

    /// <summary>An input file that cannot be read: its own exit code, not "corrupt" (9).</summary>
    public static TcpqException Unreadable(string path, Exception e) =>
        new(ExitCode.NoInput, $"cannot read {path}: {Describe(path, e)}");
}
