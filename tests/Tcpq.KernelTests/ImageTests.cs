using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>The image scripts/image builds: FROM scratch, yet with what tcpq loads at run time and
/// ldd does not show (libbpf, libssl) and the CA certificates; its entry point is tcpq.</summary>
public class ImageTests
{
    [Fact]
    public void The_image_holds_tcpq_its_libraries_and_the_ca_certificates_and_runs_tcpq()
    {
        var image = Podman.Tcpq;
        Assert.StartsWith("1.", Podman.Run("run", "--rm", "--network", "none", image, "--version"));
        var container = Podman.Run("create", image);
        try
        {
            var tar = Path.Combine(Directory.CreateTempSubdirectory("tcpq-image-").FullName, "fs.tar");
            Podman.Run("export", "--output", tar, container);
            var files = Shell.Run("tar", "-tf", tar).Split('\n').Select(f => f.TrimStart('.', '/')).ToHashSet();
            foreach (var f in new[] { "usr/local/bin/tcpq", "etc/ssl/certs/ca-certificates.crt", "usr/lib/x86_64-linux-gnu/libbpf.so.1",
                         "usr/lib/x86_64-linux-gnu/libssl.so.3", "usr/lib/x86_64-linux-gnu/libcrypto.so.3", "usr/lib/x86_64-linux-gnu/libc.so.6" })
                Assert.Contains(f, files);
            File.Delete(tar);
        }
        finally { Podman.Run(false, "rm", container); }
    }

    [Fact]
    public void Tcpq_in_the_image_pushes_otlp_over_https_and_checks_the_servers_certificate()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        var dir = Directory.CreateTempSubdirectory("tcpq-tls-");
        string cert = Path.Combine(dir.FullName, "cert.pem"), key = Path.Combine(dir.FullName, "key.pem");
        using (var rsa = RSA.Create(2048))
        {
            var request = new CertificateRequest("CN=127.0.0.1", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            using var self = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            File.WriteAllText(cert, self.ExportCertificatePem());
            File.WriteAllText(key, rsa.ExportPkcs8PrivateKeyPem());
        }
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["netns", "exec", ns.Name, "python3", Path.Combine(AppContext.BaseDirectory, "Servers", "https_receiver.py"), port.ToString(), cert, key, "2"])
            psi.ArgumentList.Add(a);
        using var receiver = Process.Start(psi)!;
        Assert.Equal("listening", receiver.StandardOutput.ReadLine());

        // diag: no capability needed; the push is what is tested. Its CA, mounted, trusted through
        // SSL_CERT_FILE, the variable the image sets to Debian's bundle
        string[] serve(params string[] trust) => ["run", "--rm", "--network", $"ns:{ns.Path}", .. trust, Podman.Tcpq,
            "serve", "--backend", "diag", "--listen", "127.0.0.1:0", "--otlp-endpoint", $"https://127.0.0.1:{port}", "--otlp-interval", "1",
            "--duration", "3", "--workloads", "off", "--dotnet", "off"];
        var untrusted = Podman.Run(false, serve());
        Assert.Contains("did not complete", untrusted); // the server's certificate is no CA's of Debian's bundle
        Podman.Run(serve("--volume", $"{cert}:/ca.pem:ro", "--env", "SSL_CERT_FILE=/ca.pem"));
        Assert.True(receiver.WaitForExit(30_000), "the receiver did not get two pushes");
        var posts = receiver.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(posts, p => Assert.StartsWith("POST /v1/metrics ", p));
        Assert.Equal(2, posts.Length);
        dir.Delete(recursive: true);
    }
}
