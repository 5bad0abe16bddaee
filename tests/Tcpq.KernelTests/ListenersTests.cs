using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary><c>tcpq listeners</c> against the real kernel, each scenario in its own namespace,
/// checked against <c>ss</c> and <c>nstat</c>.</summary>
public partial class ListenersTests
{
    private static readonly string TestComm = File.ReadAllText("/proc/self/comm").Trim();

    [Fact]
    public void A_full_backlog_1_listener_shows_Q_2_of_1_its_drops_and_this_process_and_agrees_with_ss()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next(), v6Port = Ports.Next();
        var to = new IPEndPoint(IPAddress.Loopback, port);
        using var full = ns.Listen(IPAddress.Loopback, port, backlog: 1);
        using var idle = ns.Listen(IPAddress.IPv6Any, v6Port, backlog: 7, dualStack: true);
        using var first = ns.StartConnect(to);
        Thread.Sleep(50);
        using var second = ns.StartConnect(to);
        Thread.Sleep(50);
        using var third = ns.StartConnect(to); // its SYN finds the accept queue full: dropped, retried
        Assert.True(WaitUntil(() => ns.Nstat().GetValueOrDefault("TcpExtListenDrops") >= 1, TimeSpan.FromSeconds(3)), "no SYN was dropped");

        // a retransmitted SYN may be dropped while we look: take a reading nstat brackets
        List<ListenerRow> rows = [];
        string ss = "";
        long drops = -1;
        for (int attempt = 0; attempt < 5; attempt++)
        {
            long before = ns.Nstat().GetValueOrDefault("TcpExtListenDrops");
            rows = TcpqListeners.Json("--netns", ns.Path);
            ss = ns.Exec("ss", "-ltnmH");
            long after = ns.Nstat().GetValueOrDefault("TcpExtListenDrops");
            if (before == after) { drops = after; break; }
        }
        Assert.True(drops >= 1, "the drop counter never held still for a reading");
        string all = string.Join("\n", rows);

        var row = Assert.Single(rows, r => r.LocalPort == port);
        Assert.Equal(("127.0.0.1", 2, 1), (row.LocalAddress, row.Q, row.QMax));
        Assert.Equal(drops, row.Drops);
        Assert.Equal(0, row.Q0);
        Assert.Equal(ns.Inode, row.NetNs);
        Assert.Contains((Environment.ProcessId, TestComm), row.Owners);
        Assert.Equal(port, rows[0].LocalPort); // the fullest first

        // every listener ss sees, with the same queues and drops
        var ssRows = SsListeners(ss);
        Assert.Equal(2, ssRows.Count);
        Assert.Equal(ssRows.Count, rows.Count);
        foreach (var s in ssRows)
        {
            var mine = Assert.Single(rows, r => r.LocalAddress == s.Address && r.LocalPort == s.Port);
            Assert.True((s.Q, s.QMax, s.Drops) == (mine.Q, mine.QMax, mine.Drops), $"ss: {s}\ntcpq: {all}");
        }
    }

    [Fact]
    public void Handshakes_held_in_SYN_RECV_by_a_firewall_show_as_Q0()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 16);
        // drop the clients' pure ACKs to the port: the handshakes cannot finish
        var rules = Path.Combine(Path.GetTempPath(), $"tcpq-nft-{Guid.NewGuid():N}.nft");
        File.WriteAllText(rules, $$"""
            table inet tcpqtest {
              chain input {
                type filter hook input priority 0; policy accept;
                tcp dport {{port}} tcp flags & (fin|syn|rst|psh|ack|urg) == ack drop
              }
            }
            """);
        try { ns.Exec("nft", "-f", rules); }
        finally { File.Delete(rules); }

        var to = new IPEndPoint(IPAddress.Loopback, port);
        var clients = Enumerable.Range(0, 3).Select(_ => ns.StartConnect(to)).ToList();
        try
        {
            // verified here: the kernel holds them as request sockets
            int synRecv = 0;
            Assert.True(WaitUntil(() => (synRecv = CountLines(ns.Exec("ss", "-tnH", "state", "syn-recv", "sport", "=", $":{port}"))) == 3,
                TimeSpan.FromSeconds(3)), $"ss shows {synRecv} SYN-RECV sockets, expected 3");

            var row = Assert.Single(TcpqListeners.Json("--netns", ns.Path), r => r.LocalPort == port);
            Assert.Equal((3, 0, 16), (row.Q0, row.Q, row.QMax));
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
        }
    }

    [Fact]
    public void Without_root_the_current_namespace_is_listed_and_unreadable_owners_are_said_so()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 3);
        var (code, stdout, stderr) = TcpqListeners.RunAs(
            ["ip", "netns", "exec", ns.Name, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"], "--format", "json");
        Assert.True(code == 0, stderr);
        var row = Assert.Single(TcpqListeners.ParseJson(stdout), r => r.LocalPort == port);
        Assert.Equal((0, 3), (row.Q, row.QMax));
        Assert.Empty(row.Owners);
        Assert.Contains("permission denied", row.OwnersUnknown);

        // entering another namespace is what needs privilege
        var denied = TcpqListeners.RunAs(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"], "--netns", ns.Path);
        Assert.Equal(4, denied.ExitCode);
        Assert.Equal($"tcpq: enter network namespace {ns.Path}: permission denied (needs root or CAP_SYS_ADMIN)", denied.Stderr.Trim());
    }

    [Theory]
    [InlineData("/etc/hostname", "is not a network namespace")]
    [InlineData("/proc/self/ns/uts", "is not a network namespace")]
    [InlineData("/tmp", "is not a network namespace")]
    [InlineData("/run/netns/tcpq-no-such-namespace", "no such file")]
    public void A_path_that_is_not_a_network_namespace_is_one_line_and_exit_code_2(string path, string says)
    {
        var (code, stdout, stderr) = TcpqListeners.Run("--netns", path);
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Equal($"tcpq: {(says == "no such file" ? $"network namespace {path}: no such file" : path + " " + says)}", stderr.Trim().Split('\n').Single().Split(" (expected")[0]);
    }

    [Fact]
    public void All_namespaces_includes_each_test_namespace_once()
    {
        using var a = NetNamespace.Create();
        using var b = NetNamespace.Create();
        int pa = Ports.Next(), pb = Ports.Next();
        using var la = a.Listen(IPAddress.Loopback, pa, backlog: 2);
        using var lb = b.Listen(IPAddress.IPv6Loopback, pb, backlog: 3);
        var rows = TcpqListeners.Json("--all-netns");
        var ra = Assert.Single(rows, r => r.NetNs == a.Inode);
        var rb = Assert.Single(rows, r => r.NetNs == b.Inode);
        Assert.Equal(("127.0.0.1", pa, 2), (ra.LocalAddress, ra.LocalPort, ra.QMax));
        Assert.Equal(("::1", pb, 3), (rb.LocalAddress, rb.LocalPort, rb.QMax));
        Assert.Equal(rows.Count, rows.Distinct().Count());
    }

    [Fact]
    public void Watch_on_a_pipe_appends_timestamped_snapshots_until_Ctrl_C()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 4);
        var psi = new System.Diagnostics.ProcessStartInfo(Fixtures.Posix.WithDefaultSigint[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[.. Fixtures.Posix.WithDefaultSigint[1..], TcpqTrace.Binary, "listeners", "--netns", ns.Path, "--watch", "0.2", "--format", "csv"]) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var lines = new List<string>();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (lines.Count < 4 && sw.Elapsed < TimeSpan.FromSeconds(20) && p.StandardOutput.ReadLine() is string line) lines.Add(line);
        Fixtures.Posix.Kill(p.Id, Fixtures.Posix.SIGINT);
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(10)), "tcpq listeners --watch did not stop on SIGINT");
        lines.AddRange(p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {p.StandardError.ReadToEnd()}");

        Assert.Equal(Tcpq.Output.ListenersCsvWriter.Header, lines[0]); // ends with the workload columns, empty here
        var data = lines.Skip(1).ToList();
        Assert.True(data.Count >= 3, string.Join("\n", lines));
        Assert.All(data, l => Assert.Matches($@"^\d{{4}}-\d\d-\d\dT[\d:.]+Z,{ns.Inode},127\.0\.0\.1,{port},0,0,4,0,", l));
        Assert.Equal(data.Count, data.Select(l => l.Split(',')[0]).Distinct().Count()); // a new time each snapshot
    }

    private sealed record SsListener(string Address, int Port, int Q, int QMax, long? Drops);

    [GeneratedRegex(@"^LISTEN\s+(\d+)\s+(\d+)\s+(\S+):(\d+)\s")]
    private static partial Regex SsLine();

    [GeneratedRegex(@"skmem:\([^)]*\bd(\d+)\)")]
    private static partial Regex SsDrops();

    /// <summary><c>ss -ltnmH</c>: a LISTEN line, then its skmem line with d&lt;drops&gt;.</summary>
    private static List<SsListener> SsListeners(string ss)
    {
        var result = new List<SsListener>();
        var lines = ss.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var m = SsLine().Match(lines[i]);
            if (!m.Success) continue;
            var d = i + 1 < lines.Length ? SsDrops().Match(lines[i + 1]) : Match.Empty;
            string address = m.Groups[3].Value.Trim('[', ']');
            if (address == "*") address = "::";
            result.Add(new SsListener(address, int.Parse(m.Groups[4].Value), int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value),
                d.Success ? long.Parse(d.Groups[1].Value) : null));
        }
        return result;
    }

    private static int CountLines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

    private static bool WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (condition()) return true;
            Thread.Sleep(50);
        }
        return condition();
    }
}
