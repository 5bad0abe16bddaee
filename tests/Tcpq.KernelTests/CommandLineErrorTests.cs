using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>Bad input gets one line on stderr and its own exit code; never a stack trace.</summary>
public class CommandLineErrorTests
{
    private static (int Code, string Output) Tcpq(params string[] args)
    {
        var output = Shell.RunWithCode(TcpqTrace.Binary, args, out int code, timeout: TimeSpan.FromSeconds(30));
        return (code, output);
    }

    private static void AssertOneLine(string output)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("tcpq: ", lines[0]);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public void An_unknown_flag_is_a_usage_error()
    {
        var (code, output) = Tcpq("trace", "--no-such-flag");
        Assert.Equal(2, code);
        AssertOneLine(output);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("65536")]
    [InlineData("http")]
    public void A_bad_port_has_its_own_exit_code(string port)
    {
        var (code, output) = Tcpq("trace", "-p", port);
        Assert.Equal(3, code);
        AssertOneLine(output);
        Assert.Contains(port, output);
    }

    [Fact]
    public void Without_root_it_says_what_it_needs()
    {
        Requirements.Check();
        var output = Shell.RunWithCode("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
            UnprivilegedCopy.Binary, "trace", "-d", "1"], out int code, timeout: TimeSpan.FromSeconds(30));
        Assert.True(code == 4, output);
        AssertOneLine(output);
        Assert.Contains("root", output);
    }

    [Fact]
    public void Without_root_too_many_ports_is_still_a_bad_port_and_the_output_file_is_kept()
    {
        Requirements.Check();
        var dir = Directory.CreateTempSubdirectory("tcpq-ports-");
        try
        {
            string file = Path.Combine(dir.FullName, "earlier.csv");
            File.WriteAllText(file, "an earlier trace\n");
            Shell.Run("chown", "-R", "65534:65534", dir.FullName);
            string ports = string.Join(',', Enumerable.Range(1000, 65));
            var output = Shell.RunWithCode("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                UnprivilegedCopy.Binary, "trace", "-p", ports, "-o", file], out int code, timeout: TimeSpan.FromSeconds(30));
            Assert.True(code == 3, output);
            AssertOneLine(output);
            Assert.Contains("at most 64", output);
            Assert.Equal("an earlier trace\n", File.ReadAllText(file));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Root_without_CAP_PERFMON_is_told_which_capability_is_missing()
    {
        Requirements.Check();
        var output = Shell.RunWithCode("setpriv", ["--inh-caps=-all,+bpf,+net_admin", "--ambient-caps=-all,+bpf,+net_admin",
            "--bounding-set=-all,+bpf,+net_admin", UnprivilegedCopy.Binary, "trace", "-d", "1"], out int code, timeout: TimeSpan.FromSeconds(30));
        Assert.True(code == 4, output);
        AssertOneLine(output);
        Assert.Contains("missing CAP_PERFMON", output);
    }

    [Fact]
    public void Without_kernel_BTF_it_says_so()
    {
        Requirements.Check();
        // a private mount namespace where /sys/kernel/btf is empty
        var output = Shell.RunWithCode("unshare", ["-m", "sh", "-c",
            $"mount -t tmpfs none /sys/kernel/btf && exec {TcpqTrace.Binary} trace -d 1"], out int code, timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(5, code);
        AssertOneLine(output);
        Assert.Contains("BTF", output);
    }
}
