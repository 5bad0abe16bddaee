using Tcpq.Serve.Web;

namespace Tcpq.Tests;

/// <summary>--web-config in exporter-toolkit's format: what it accepts, and a bad file as one line
/// with its own exit code. Certificates are made here with .NET's own CertificateRequest.</summary>
public class WebConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tcpq-webconfig-").FullName;

    // htpasswd -nbB prometheus secret (cost 5, so that the test stays fast)
    private const string Hash = "$2y$05$Wa9kUS4CtZvX6LcnYmb2ZuiHwvmXeH9KK45Xmdf0jirNWhgDCJJWC";

    public void Dispose() => Directory.Delete(_dir, true);

    private string File(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    private void Certificate(string name)
    {
        using var key = System.Security.Cryptography.ECDsa.Create();
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=localhost", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File(name + ".crt", cert.ExportCertificatePem());
        File(name + ".key", key.ExportPkcs8PrivateKeyPem());
    }

    private static TcpqException Bad(string path) => Assert.Throws<TcpqException>(() => WebConfig.Load(path));

    [Fact]
    public void Tls_and_basic_auth_load_with_paths_relative_to_the_file()
    {
        Certificate("server");
        Certificate("ca");
        var config = WebConfig.Load(File("web.yml", $"""
            tls_server_config:
              cert_file: server.crt
              key_file: server.key
              client_auth_type: VerifyClientCertIfGiven
              client_ca_file: ca.crt
              min_version: TLS13
            basic_auth_users:
              prometheus: {Hash}
            """));
        Assert.Equal("CN=localhost", config.Tls!.Certificate.Subject);
        Assert.True(config.Tls.Certificate.HasPrivateKey);
        Assert.Equal(TlsSettings.ClientAuth.VerifyClientCertIfGiven, config.Tls.ClientAuthType);
        Assert.Single(config.Tls.ClientCas!);
        Assert.Equal(System.Security.Authentication.SslProtocols.Tls13, config.Tls.Protocols);
        Assert.Equal(Hash, config.Users!["prometheus"]);
    }

    [Fact]
    public void An_empty_file_is_plain_http_as_in_exporter_toolkit()
    {
        var config = WebConfig.Load(File("web.yml", ""));
        Assert.Null(config.Tls);
        Assert.Null(config.Users);
    }

    [Theory]
    [InlineData("tls_config:\n  cert_file: a\n", "line 1: unknown key 'tls_config'")]
    [InlineData("tls_server_config:\n  cert_file: a\n  keyfile: b\n", "line 3: unknown key 'tls_server_config.keyfile'")]
    [InlineData("tls_server_config:\n  cert_file: a\n  cipher_suites: [x]\n", "cipher_suites is not supported by tcpq")]
    [InlineData("tls_server_config:\n  key_file: a\n", "tls_server_config needs cert_file")]
    [InlineData("tls_server_config:\n  cert_file: a\n", "tls_server_config needs key_file")]
    [InlineData("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n", "client_ca_file is set but client_auth_type is not")]
    [InlineData("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n", "needs client_ca_file")]
    [InlineData("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Sometimes\n", "bad client_auth_type 'Sometimes'")]
    [InlineData("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n", "TLS 1.2 and 1.3 only")]
    [InlineData("tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n", "missing.crt with the key")]
    [InlineData("basic_auth_users:\n  prometheus: secret\n", "the password of 'prometheus' is not a bcrypt hash")]
    [InlineData("basic_auth_users: [a, b]\n", "basic_auth_users must hold keys")]
    [InlineData("http_server_config:\n  headers:\n    X-Frame-Options: deny\n", "http_server_config.headers is not supported")]
    [InlineData("tls_server_config: {cert_file: a\n", "not valid YAML")]
    [InlineData("just text\n", "expected keys")]
    public void A_bad_file_is_one_line_and_its_own_exit_code(string yaml, string message)
    {
        var e = Bad(File("web.yml", yaml));
        Assert.Equal(ExitCode.BadConfig, e.Code);
        Assert.Contains(message, e.Message);
        Assert.StartsWith($"bad --web-config {Path.Combine(_dir, "web.yml")}: ", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void A_missing_file_or_a_directory_says_so()
    {
        Assert.Contains("no such file", Bad(Path.Combine(_dir, "nope.yml")).Message);
        Assert.Contains("is a directory", Bad(_dir).Message);
    }

    [Fact]
    public void A_key_that_does_not_match_its_certificate_is_refused()
    {
        Certificate("a");
        Certificate("b");
        var e = Bad(File("web.yml", "tls_server_config:\n  cert_file: a.crt\n  key_file: b.key\n"));
        Assert.Equal(ExitCode.BadConfig, e.Code);
        Assert.Contains("cannot load the certificate", e.Message);
    }

    [Fact]
    public void Http2_off_is_accepted_as_tcpq_serves_http1_only() =>
        Assert.Null(WebConfig.Load(File("web.yml", "http_server_config:\n  http2: false\n")).Tls);
}
