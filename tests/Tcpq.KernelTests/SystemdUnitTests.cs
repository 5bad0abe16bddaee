using System.Net;
using System.Text.RegularExpressions;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>
/// deploy/systemd/tcpq.service as shipped, started by a real systemd (<see cref="SystemdContainer"/>):
/// <c>systemd-analyze security</c> rates it under 3.0; systemd runs tcpq as a user of its own with
/// three capabilities, no file-reading privilege and its seccomp filters, and it counts a
/// connection of the test's namespace; without any one of the three it stops with exit 4 naming it.
/// With deploy/systemd/tcpq-web-config.conf, it serves TLS and basic auth from files only root reads.
/// </summary>
public class SystemdUnitTests
{
    private const ulong CapNetAdmin = 1UL << 12, CapPerfmon = 1UL << 38, CapBpf = 1UL << 39;

    private static string Unit() => DeployFile("tcpq.service");

    private static string DeployFile(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "tcpq.slnx"))) return Path.Combine(dir.FullName, "deploy", "systemd", name);
        throw new InvalidOperationException("no tcpq.slnx above the test binaries");
    }

    private static void WaitUntilServing(SystemdContainer systemd)
    {
        for (int i = 0; i < 120 && !systemd.Journal("tcpq.service").Contains("tcpq: serving metrics", StringComparison.Ordinal); i++) Thread.Sleep(250);
        Assert.True(systemd.Show("tcpq.service", "ActiveState") == "active", systemd.Journal("tcpq.service"));
    }

    /// <summary>A line of /proc/PID/status ("CapEff", "Uid"...), its value.</summary>
    private static string Field(string status, string name) =>
        status.Split('\n').Single(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim();

    private static string Scrape(NetNamespace ns) =>
        Shell.RunWithCode("ip", ["netns", "exec", ns.Name, "curl", "-s", "-m", "10", "http://127.0.0.1:9477/metrics"], out _);

    [Fact]
    public void The_unit_rates_under_3_in_systemd_analyze_security_and_reads_no_file_it_could_not_as_anyone()
    {
        var output = Shell.RunWithCode("systemd-analyze", ["security", "--offline=true", "--threshold=30", Unit()], out int code);
        Assert.True(code == 0, output);
        Assert.Matches(@"Overall exposure level for tcpq.service: [0-2]\.\d OK", output);
        var settings = string.Join('\n', File.ReadLines(Unit()).Where(l => !l.StartsWith('#')));
        foreach (var privilege in new[] { "CAP_DAC_READ_SEARCH", "CAP_DAC_OVERRIDE", "CAP_SYS_ADMIN", "SupplementaryGroups" })
            Assert.DoesNotContain(privilege, settings);
        Assert.Contains("AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_NET_ADMIN\n", settings);
    }

    [Fact]
    public void Started_by_systemd_it_runs_unprivileged_counts_a_connection_and_stops_cleanly()
    {
        using var ns = NetNamespace.Create();
        using var systemd = SystemdContainer.Boot(ns);
        systemd.Install("tcpq.service", File.ReadAllText(Unit()));
        Assert.True(systemd.Start("tcpq.service"), systemd.Journal("tcpq.service"));
        WaitUntilServing(systemd);

        var status = systemd.MainProcessStatus("tcpq.service");
        Assert.NotEqual("0", Field(status, "Uid").Split('\t')[0]);
        Assert.DoesNotContain("0", Field(status, "Groups").Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(CapBpf | CapPerfmon | CapNetAdmin, Convert.ToUInt64(Field(status, "CapEff"), 16));
        Assert.Equal(CapBpf | CapPerfmon | CapNetAdmin, Convert.ToUInt64(Field(status, "CapBnd"), 16));
        Assert.Equal("1", Field(status, "NoNewPrivs"));
        Assert.Equal("2", Field(status, "Seccomp")); // filtered: SystemCallFilter=, MemoryDenyWriteExecute=...

        int port = Ports.Next();
        using var listener = ns.Listen(IPAddress.Loopback, port, backlog: 8);
        string metrics = "";
        for (int i = 0; i < 40 && !Regex.IsMatch(metrics, @"^tcpq_info\{", RegexOptions.Multiline); i++, Thread.Sleep(250))
            metrics = Scrape(ns);
        Assert.Contains("tcpq_info{backend=\"ebpf\"", metrics);
        using var client = ns.StartConnect(new IPEndPoint(IPAddress.Loopback, port));
        using var accepted = ns.Run(() => { listener.Blocking = true; return listener.Accept(); });
        double accepts = 0;
        for (int i = 0; i < 40 && accepts < 1; i++, Thread.Sleep(250))
            accepts = TcpqServe.Sum(Scrape(ns), "tcpq_accepts_total", $"server_port=\"{port}\"", $"netns=\"{ns.Inode}\"");
        Assert.Equal(1, accepts);
        // every handshake of the namespace, the scrapes' own included, as the kernel counts them; a
        // scrape reuses a reading younger than a second (serve's SnapshotCache), so this one reads anew
        Thread.Sleep(1100);
        var all = Scrape(ns);
        Assert.Equal((double)ns.Nstat()["TcpPassiveOpens"], TcpqServe.Sum(all, "tcpq_handshakes_total", $"netns=\"{ns.Inode}\""));

        systemd.Stop("tcpq.service");
        Assert.Equal("0", systemd.Show("tcpq.service", "ExecMainStatus"));
        Assert.Equal("success", systemd.Show("tcpq.service", "Result"));
    }

    [Fact]
    public void Without_any_of_its_three_capabilities_systemd_sees_it_stop_with_exit_4_naming_it()
    {
        using var ns = NetNamespace.Create();
        using var systemd = SystemdContainer.Boot(ns);
        foreach (var capability in new[] { "CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN" })
        {
            var unit = Regex.Replace(File.ReadAllText(Unit()), @"^(AmbientCapabilities|CapabilityBoundingSet)=(.*)$",
                m => $"{m.Groups[1].Value}={string.Join(' ', m.Groups[2].Value.Split(' ').Where(c => c != capability))}", RegexOptions.Multiline);
            unit = Regex.Replace(unit, "^Restart=.*$", "Restart=no", RegexOptions.Multiline);
            Assert.DoesNotContain(capability, Regex.Match(unit, "^AmbientCapabilities=.*$", RegexOptions.Multiline).Value);
            var name = $"tcpq-without-{capability.ToLowerInvariant().Replace('_', '-')}.service";
            systemd.Install(name, unit);

            systemd.Start(name); // Type=simple: started once forked, whatever tcpq then does
            string state = "";
            for (int i = 0; i < 120 && state is not ("failed" or "inactive"); i++, Thread.Sleep(250))
                state = systemd.Show(name, "ActiveState");
            Assert.Equal("failed", state);
            Assert.Equal("4", systemd.Show(name, "ExecMainStatus"));
            Assert.Contains($"missing {capability}", systemd.Journal(name));
        }
    }

    [Fact]
    public void With_the_web_config_drop_in_it_serves_tls_and_basic_auth_from_files_only_root_reads()
    {
        var pki = Directory.CreateTempSubdirectory("tcpq-unit-pki-").FullName;
        try
        {
            Shell.Run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=node1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", Path.Combine(pki, "tcpq.key"), "-out", Path.Combine(pki, "tcpq.crt"));
            var hash = Shell.Run("htpasswd", "-nbB", "-C", "10", "prometheus", "s3cret").Trim().Split(':', 2)[1];
            using var ns = NetNamespace.Create();
            using var systemd = SystemdContainer.Boot(ns);
            systemd.Write("/etc/tcpq/web.yml", $"tls_server_config:\n  cert_file: tcpq.crt\n  key_file: tcpq.key\nbasic_auth_users:\n  prometheus: {hash}\n");
            foreach (var file in new[] { "tcpq.crt", "tcpq.key" }) systemd.Write($"/etc/tcpq/{file}", File.ReadAllText(Path.Combine(pki, file)));
            systemd.Write("/etc/systemd/system/tcpq.service.d/web-config.conf", File.ReadAllText(DeployFile("tcpq-web-config.conf")));
            systemd.Install("tcpq.service", File.ReadAllText(Unit()));
            Assert.True(systemd.Start("tcpq.service"), systemd.Journal("tcpq.service"));
            WaitUntilServing(systemd);
            Assert.Contains("at https://0.0.0.0:9477/metrics (basic auth)", systemd.Journal("tcpq.service"));

            string Curl(params string[] args) =>
                Shell.RunWithCode("ip", ["netns", "exec", ns.Name, "curl", "-s", "-m", "10", "--cacert", Path.Combine(pki, "tcpq.crt"), .. args], out _);
            Assert.Contains("tcpq_info{backend=\"ebpf\"", Curl("-u", "prometheus:s3cret", "https://127.0.0.1:9477/metrics"));
            Assert.Equal("401", Curl("-o", "/dev/null", "-w", "%{http_code}", "https://127.0.0.1:9477/metrics"));
            Assert.Equal("OK\n", Curl("https://127.0.0.1:9477/-/ready"));
            systemd.Stop("tcpq.service");
            Assert.Equal("0", systemd.Show("tcpq.service", "ExecMainStatus"));
        }
        finally
        {
            Directory.Delete(pki, recursive: true);
        }
    }
}
