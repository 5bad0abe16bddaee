using System.Net;
using System.Net.Sockets;
using System.Text;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>
/// <c>tcpq serve</c>'s endpoint tried as an attacker would, each test with serve inside its own
/// network namespace (the diag backend: no BPF needed for what is tested here): idle, slow and
/// many clients, TLS and basic auth with a certificate made by openssl and checked by a real
/// curl, a flood of wrong passwords.
/// </summary>
public class ServeEndpointTests
{
    /// <summary>curl inside the namespace; returns its standard output (the body, or -w's status), whatever it exits with.</summary>
    private static string Curl(NetNamespace ns, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["netns", "exec", ns.Name, "curl", "-s", "-m", "20", .. args]) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        _ = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(120))) { p.Kill(true); throw new TimeoutException("curl did not finish"); }
        return stdout.Result;
    }

    private static Socket Connect(NetNamespace ns, string from, IPEndPoint to) => ns.Run(() =>
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        s.Connect(to);
        return s;
    });

    /// <summary>Waits (bounded) until the server has closed <paramref name="s"/>; false if it never did.</summary>
    private static bool ClosedByServer(Socket s, TimeSpan within)
    {
        s.ReceiveTimeout = (int)within.TotalMilliseconds;
        var buffer = new byte[65536];
        try
        {
            while (true) if (s.Receive(buffer) == 0) return true; // a slow reader's answer is read away until the end
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset) { return true; }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut) { return false; }
    }

    [Fact]
    public void Idle_slow_and_many_clients_do_not_stop_a_scrape_and_are_let_go()
    {
        using var ns = NetNamespace.Create();
        using var serve = TcpqServe.Start(ns, "--backend", "diag");
        var at = IPEndPoint.Parse(serve.Address);
        var held = new List<Socket>();
        try
        {
            // the issue's case: 8 idle connections used to stop every scrape
            var idle = Enumerable.Range(0, 8).Select(_ => Connect(ns, "127.0.0.1", at)).ToList();
            // slowloris: a request head that never ends, a byte at a time
            var slow = Enumerable.Range(0, 4).Select(_ => Connect(ns, "127.0.0.1", at)).ToList();
            foreach (var s in slow) s.Send("GET /metrics HTTP/1.1\r\nX-Slow: "u8);
            // a reader that asks and never reads, its receive buffer small
            var reader = ns.Run(() =>
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                s.Connect(at);
                return s;
            });
            reader.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"u8);
            // and another address opening far more connections than its share
            var many = Enumerable.Range(0, 64).Select(_ => Connect(ns, "127.0.0.3", at)).ToList();
            held.AddRange([.. idle, .. slow, reader, .. many]);
            for (int i = 0; i < 3; i++)
                foreach (var s in slow) s.Send("x"u8);

            Assert.Equal("200", Curl(ns, "-o", "/dev/null", "-w", "%{http_code}", $"http://{serve.Address}/metrics"));
            Assert.Equal("200", Curl(ns, "-o", "/dev/null", "-w", "%{http_code}", "--interface", "127.0.0.2", $"http://{serve.Address}/metrics"));

            // past one address's share, connections are closed at once; the rest are let go: the
            // slow heads after 5 s, the idle after 20 s (bounded waits, not timed assertions)
            Assert.True(many.Count(s => ClosedByServer(s, TimeSpan.FromSeconds(2))) >= many.Count - 16, "connections past one address's share stay open");
            Assert.All(slow, s => Assert.True(ClosedByServer(s, TimeSpan.FromSeconds(60)), "a request head that never ends was not cut off"));
            Assert.All(idle, s => Assert.True(ClosedByServer(s, TimeSpan.FromSeconds(60)), "an idle connection was kept"));
            Assert.Equal("200", Curl(ns, "-o", "/dev/null", "-w", "%{http_code}", $"http://{serve.Address}/metrics"));
        }
        finally
        {
            foreach (var s in held) s.Dispose();
        }
        Assert.Equal(0, serve.Stop());
    }

    [Fact]
    public void Connections_past_the_limit_from_many_addresses_make_room_for_a_scraper()
    {
        using var ns = NetNamespace.Create();
        using var serve = TcpqServe.Start(ns, "--backend", "diag");
        var at = IPEndPoint.Parse(serve.Address);
        var held = new List<Socket>();
        try
        {
            // 300 idle connections, 10 from each of 30 addresses (under one address's share):
            // together past the endpoint's 256, which refused every scraper until they timed out
            for (int a = 0; a < 30; a++)
                for (int i = 0; i < 10; i++)
                    held.Add(Connect(ns, $"127.0.1.{a + 1}", at));
            // and a keep-alive scraper answered twice on one connection while 40 more arrive
            // (num_connects 0: the second reused the first's connection)
            string twice = Curl(ns, "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code}:%{num_connects} ", $"http://{serve.Address}/metrics", $"http://{serve.Address}/metrics");
            for (int i = 0; i < 40; i++) held.Add(Connect(ns, $"127.0.2.{i / 10 + 1}", at));
            Assert.Equal("200:1 200:0 ", twice);
            Assert.Equal("200", Curl(ns, "-o", "/dev/null", "-w", "%{http_code}", $"http://{serve.Address}/metrics"));
            // the oldest idle ones made the room: closed by serve, the newest kept
            Assert.True(ClosedByServer(held[0], TimeSpan.FromSeconds(5)), "the oldest idle connection was not closed to make room");
            Assert.False(ClosedByServer(held[^1], TimeSpan.FromMilliseconds(200)), "the newest connection was closed");
        }
        finally
        {
            foreach (var s in held) s.Dispose();
        }
        Assert.Equal(0, serve.Stop());
    }

    private sealed class Pki : IDisposable
    {
        public string Dir { get; } = Directory.CreateTempSubdirectory("tcpq-pki-").FullName;
        public string this[string file] => Path.Combine(Dir, file);

        private void OpenSsl(params string[] args) => Shell.Run("openssl", args);

        /// <summary>A CA, and certificates it signs (server for 127.0.0.1, or a client).</summary>
        public Pki Ca(string name)
        {
            OpenSsl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", $"/CN=tcpq test {name}", "-keyout", this[name + ".key"], "-out", this[name + ".crt"]);
            return this;
        }

        public Pki Signed(string name, string by, bool server)
        {
            OpenSsl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", $"/CN={name}",
                "-keyout", this[name + ".key"], "-out", this[name + ".csr"]);
            File.WriteAllText(this[name + ".ext"], server ? "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n" : "extendedKeyUsage=clientAuth\n");
            OpenSsl("x509", "-req", "-in", this[name + ".csr"], "-CA", this[by + ".crt"], "-CAkey", this[by + ".key"], "-CAcreateserial",
                "-days", "2", "-extfile", this[name + ".ext"], "-out", this[name + ".crt"]);
            return this;
        }

        public string Config(string yaml)
        {
            File.WriteAllText(this["web.yml"], yaml);
            return this["web.yml"];
        }

        public void Dispose() => Directory.Delete(Dir, true);
    }

    /// <summary>htpasswd's bcrypt (apache2-utils, as the exporter-toolkit docs suggest), cost 10.</summary>
    private static string Bcrypt(string user, string password) =>
        Shell.Run("htpasswd", "-nbB", "-C", "10", user, password).Trim().Split(':', 2)[1];

    [Fact]
    public void Tls_and_basic_auth_with_an_openssl_certificate_and_curl()
    {
        using var pki = new Pki().Ca("ca").Signed("server", "ca", server: true);
        var config = pki.Config($"""
            tls_server_config:
              cert_file: server.crt
              key_file: server.key
            basic_auth_users:
              prometheus: {Bcrypt("prometheus", "s3cret")}
            """);
        using var ns = NetNamespace.Create();
        using var serve = TcpqServe.Start(ns, "--backend", "diag", "--web-config", config);
        Assert.Contains(serve.Stderr, l => l.Contains($"at https://{serve.Address}/metrics (basic auth)", StringComparison.Ordinal));
        string url = $"https://{serve.Address}", ca = pki["ca.crt"];

        var body = Curl(ns, "--cacert", ca, "-u", "prometheus:s3cret", $"{url}/metrics");
        Assert.Contains("tcpq_info{backend=\"diag\"", body);
        Assert.Contains("tcpq_http_auth_hashes_total 1\n", body);
        Assert.Equal("200", Curl(ns, "--cacert", ca, "-u", "prometheus:s3cret", "--compressed", "-o", "/dev/null", "-w", "%{http_code}", $"{url}/metrics"));
        Assert.Equal("401", Curl(ns, "--cacert", ca, "-u", "prometheus:wrong", "-o", "/dev/null", "-w", "%{http_code}", $"{url}/metrics"));
        Assert.Equal("401", Curl(ns, "--cacert", ca, "-u", "nobody:s3cret", "-o", "/dev/null", "-w", "%{http_code}", $"{url}/metrics"));
        var refused = Curl(ns, "--cacert", ca, "-i", $"{url}/metrics");
        Assert.StartsWith("HTTP/1.1 401", refused);
        Assert.Contains("WWW-Authenticate: Basic", refused);
        // probes: no password, nothing revealed
        Assert.Equal("OK\n", Curl(ns, "--cacert", ca, $"{url}/-/healthy"));
        Assert.Equal("OK\n", Curl(ns, "--cacert", ca, $"{url}/-/ready"));
        // not TLS, or a certificate nobody vouched for: no answer at all
        Assert.Equal("000", Curl(ns, "-o", "/dev/null", "-w", "%{http_code}", "-u", "prometheus:s3cret", $"http://{serve.Address}/metrics"));
        Assert.Equal("000", Curl(ns, "-o", "/dev/null", "-w", "%{http_code}", "-u", "prometheus:s3cret", $"{url}/metrics"));
        Assert.Equal(0, serve.Stop());
    }

    [Fact]
    public void A_client_certificate_is_required_and_checked_against_the_client_ca()
    {
        using var pki = new Pki().Ca("ca").Signed("server", "ca", server: true)
            .Ca("clients").Signed("prometheus", "clients", server: false)
            .Ca("other").Signed("stranger", "other", server: false);
        var config = pki.Config("""
            tls_server_config:
              cert_file: server.crt
              key_file: server.key
              client_auth_type: RequireAndVerifyClientCert
              client_ca_file: clients.crt
            """);
        using var ns = NetNamespace.Create();
        using var serve = TcpqServe.Start(ns, "--backend", "diag", "--web-config", config);
        string url = $"https://{serve.Address}/metrics", ca = pki["ca.crt"];
        Assert.Equal("200", Curl(ns, "--cacert", ca, "--cert", pki["prometheus.crt"], "--key", pki["prometheus.key"], "-o", "/dev/null", "-w", "%{http_code}", url));
        Assert.Equal("000", Curl(ns, "--cacert", ca, "-o", "/dev/null", "-w", "%{http_code}", url));
        Assert.Equal("000", Curl(ns, "--cacert", ca, "--cert", pki["stranger.crt"], "--key", pki["stranger.key"], "-o", "/dev/null", "-w", "%{http_code}", url));
        Assert.Equal(0, serve.Stop());
    }

    [Fact]
    public async Task A_flood_of_wrong_passwords_is_turned_away_without_hashing_and_the_right_one_still_scrapes()
    {
        using var pki = new Pki();
        var config = pki.Config($"basic_auth_users:\n  prometheus: {Bcrypt("prometheus", "s3cret")}\n");
        using var ns = NetNamespace.Create();
        using var serve = TcpqServe.Start(ns, "--backend", "diag", "--web-config", config);
        string url = $"http://{serve.Address}/metrics";
        Assert.Equal("200", Curl(ns, "-u", "prometheus:s3cret", "-o", "/dev/null", "-w", "%{http_code}", url)); // hashed once, remembered

        // 200 distinct wrong passwords, 16 connections at once (one address's share)
        const int Guesses = 200;
        var flood = new StringBuilder("parallel\nparallel-max = 16\n");
        for (int i = 0; i < Guesses; i++)
            flood.Append(i > 0 ? "next\n" : "").Append($"url = \"{url}\"\nuser = \"prometheus:guess{i}\"\noutput = \"/dev/null\"\nwrite-out = \"%{{http_code}}\\n\"\n");
        File.WriteAllText(pki["flood.curl"], flood.ToString());
        var attack = Task.Run(() => Curl(ns, "--config", pki["flood.curl"]));
        // the right password, from another address, during the flood
        Assert.Equal("200", Curl(ns, "--interface", "127.0.0.2", "-u", "prometheus:s3cret", "-o", "/dev/null", "-w", "%{http_code}", url));
        var codes = (await attack).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Guesses, codes.Length);
        Assert.DoesNotContain("200", codes);
        int unauthorized = codes.Count(c => c == "401"), busy = codes.Count(c => c == "429");

        // every bcrypt run answered a 401; every 429 was turned away without one (a reading is
        // shared for up to a second: read until one made after the flood)
        string metrics = "";
        for (int i = 0; i < 20 && TcpqServe.Sum(metrics, "tcpq_http_auth_hashes_total") != 1 + unauthorized; i++, Thread.Sleep(250))
            metrics = Curl(ns, "--interface", "127.0.0.2", "-u", "prometheus:s3cret", url);
        Assert.Equal(1 + unauthorized, TcpqServe.Sum(metrics, "tcpq_http_auth_hashes_total"));
        Assert.Equal(busy, TcpqServe.Sum(metrics, "tcpq_http_auth_busy_total"));
        Assert.True(busy > 0, $"16 guesses at once against 1 hash and 4 waiting: some must be turned away ({string.Join(',', codes.Distinct())})");
        Assert.Equal(Guesses, unauthorized + busy);
        Assert.Equal(0, serve.Stop());
    }

    [Fact]
    public void Serving_beyond_loopback_without_a_web_config_says_so_once()
    {
        using var ns = NetNamespace.Create();
        using var serve = TcpqServe.Start(ns, "--backend", "diag", "--listen", "0.0.0.0:0");
        // Start returns at the serving line; the warning is the next line, and stops are all said
        Assert.Equal(0, serve.Stop());
        Assert.Single(serve.Stderr, l => l.StartsWith("tcpq: warning: serving 0.0.0.0:", StringComparison.Ordinal) && l.Contains("without --web-config"));
    }

    [Fact]
    public void A_bad_web_config_is_one_line_and_exit_12()
    {
        using var pki = new Pki();
        var config = pki.Config("tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n");
        var output = Shell.RunWithCode(TcpqBinary.Path, ["serve", "--web-config", config], out int code, timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(12, code);
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"tcpq: bad --web-config {config}: cannot load the certificate {pki["nope.crt"]}", line);
    }
}
