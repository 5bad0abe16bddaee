using Tcpq.Bpf;

namespace Tcpq.Tests;

public class LibbpfLogTests
{
    [Fact]
    public void The_line_quoted_from_a_failed_load_is_the_last_that_says_something() =>
        Assert.Equal("libbpf: failed to load object 'tcpq_bpf'",
            LibbpfLog.LastNonBlank([
                "libbpf: prog 'tcpq_kfree_skb': failed to find kernel BTF type ID of 'kfree_skb': -3",
                "libbpf: failed to load object 'tcpq_bpf'",
                "",
                "  ",
            ]));

    [Fact]
    public void An_empty_log_quotes_nothing() => Assert.Equal("", LibbpfLog.LastNonBlank([]));
}
