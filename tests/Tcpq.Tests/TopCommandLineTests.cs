using Tcpq.Commands;

namespace Tcpq.Tests;

/// <summary><c>tcpq top</c>'s values are checked before anything touches the kernel: one line, its exit code.</summary>
public class TopCommandLineTests
{
    [Theory]
    [InlineData(ExitCode.Usage, "bad --interval '5ms': 100ms to 60s", "top", "--interval", "5ms")]
    [InlineData(ExitCode.Usage, "bad --interval '2m': 100ms to 60s", "top", "-i", "2m")]
    [InlineData(ExitCode.Usage, "bad --iterations 0", "top", "-n", "0")]
    [InlineData(ExitCode.Usage, "bad --duration '-1'", "top", "--duration", "-1")]
    [InlineData(ExitCode.Usage, "bad --sort 'fastest': one of worst, listener, arrivals, accepts, queue, peak, drops, cookies, handshake, wait", "top", "--sort", "fastest")]
    [InlineData(ExitCode.Usage, "bad --backend 'dtrace'", "top", "--backend", "dtrace")]
    [InlineData(ExitCode.BadPort, "bad port '70000'", "top", "-p", "70000")]
    public void A_bad_value_is_one_line_and_its_exit_code(ExitCode code, string message, params string[] args)
    {
        var console = new TestConsole();
        Assert.Equal((int)code, TcpqProgram.Run(args, console.Console));
        var line = Assert.Single(console.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("tcpq: ", line);
        Assert.Contains(message, line);
        Assert.Equal("", console.Out);
    }

    [Fact]
    public void Help_names_the_keys_and_the_options()
    {
        var console = new TestConsole();
        Assert.Equal(0, TcpqProgram.Run(["top", "--help"], console.Console));
        foreach (var words in new[] { "q quit", "--sort", "--iterations", "--interval", "--backend", "like top -b" })
            Assert.Contains(words, console.Out);
    }
}
