using Tcpq.Commands;

namespace Tcpq.Tests;

/// <summary>Every value is checked in the command layer, before anything touches the kernel or
/// the file system: these run as any user, and none of them loads a program.</summary>
public class CommandLineTests
{
    private static (int Code, TestConsole Console) Run(params string[] args)
    {
        var console = new TestConsole();
        return (TcpqProgram.Run(args, console.Console), console);
    }

    private static string OneLine(TestConsole console)
    {
        var lines = console.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("tcpq: ", lines[0]);
        return lines[0];
    }

    private static string SixtyFivePorts => string.Join(',', Enumerable.Range(1000, 65));

    [Fact]
    public void Too_many_ports_is_a_bad_port_and_leaves_the_output_file_as_it_was()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "an earlier trace\n");
            var (code, console) = Run("trace", "-p", SixtyFivePorts, "-o", file);
            Assert.Equal((int)ExitCode.BadPort, code);
            Assert.Contains("at most 64", OneLine(console));
            Assert.Equal("an earlier trace\n", File.ReadAllText(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("4194304")]   // * 1024 wraps an int to 0, which passed the old power-of-two test
    [InlineData("2097152")]   // * 1024 = int.MinValue
    [InlineData("3")]
    [InlineData("12")]
    [InlineData("0")]
    [InlineData("-8")]
    public void A_ring_buffer_size_out_of_range_names_the_range(string kb)
    {
        var (code, console) = Run("trace", "--ring-buffer-kb", kb);
        Assert.Equal((int)ExitCode.Usage, code);
        Assert.Contains("a power of two from 4 to 1048576", OneLine(console));
    }

    [Theory]
    [InlineData(4L, true)]
    [InlineData(4096L, true)]
    [InlineData(1048576L, true)]
    [InlineData(2097152L, false)]
    [InlineData(4194304L, false)]
    [InlineData(6L, false)]
    public void Ring_buffer_bounds_are_checked_without_overflow(long kb, bool valid) =>
        Assert.Equal(valid, Tcpq.Bpf.TraceConfig.IsValidRingBufferKb(kb));

    [Theory]
    [InlineData("--backend", "diag", "--ring-buffer-kb", "8")]
    [InlineData("--backend", "diag", "--verbose")]
    [InlineData("--interval", "100ms")]
    public void An_option_of_the_other_backend_is_a_usage_error(params string[] args)
    {
        var (code, console) = Run(["trace", .. args]);
        Assert.Equal((int)ExitCode.Usage, code);
        Assert.Contains("does not apply to --backend", OneLine(console));
    }

    [Theory]
    [InlineData("trace", "csv|json|seed|none")]
    [InlineData("trace", "ebpf|diag")]
    [InlineData("trace", "text|json")]
    [InlineData("report", "text|json")]
    [InlineData("listeners", "table|csv|json")]
    public void Help_shows_values_as_users_type_them(string verb, string values)
    {
        var (code, console) = Run(verb, "--help");
        Assert.Equal(0, code);
        Assert.Contains(values, console.Out);
        Assert.DoesNotContain("<Csv", console.Out);
        Assert.DoesNotContain("|Ebpf>", console.Out);
        Assert.DoesNotContain("<Json|Text>", console.Out);
    }

    [Fact]
    public void A_bad_duration_is_a_usage_error()
    {
        var (code, console) = Run("trace", "-d", "0");
        Assert.Equal((int)ExitCode.Usage, code);
        Assert.Contains("--duration", OneLine(console));
    }
}

/// <summary><c>tcpq --help | head -1</c>: the reader goes away while help is written.</summary>
public class BrokenPipeTests
{
    /// <summary>A pipe whose reader has gone: every write fails as the kernel fails it (EPIPE).</summary>
    private sealed class BrokenPipe : MemoryStream
    {
        public override void Write(byte[] buffer, int offset, int count) => throw new IOException("Broken pipe", 32);
        public override void Write(ReadOnlySpan<byte> buffer) => throw new IOException("Broken pipe", 32);
    }

    [Fact]
    public void Help_into_a_pipe_whose_reader_went_away_ends_with_0_and_says_nothing()
    {
        var err = new MemoryStream();
        var console = new Tcpq.Commands.CommandConsole(new BrokenPipe(), err, outputIsTerminal: false, errorIsTerminal: false);
        Assert.Equal(0, TcpqProgram.Run(["--help"], console));
        console.Error.Flush();
        Assert.Equal("", System.Text.Encoding.UTF8.GetString(err.ToArray()));
    }
}
