using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using YamlDotNet.RepresentationModel;

namespace Tcpq.Serve.Web;

/// <summary>
/// <c>tls_server_config</c> of a web config: the server's certificate and key (PEM, loaded at
/// start), which clients must show a certificate and whether it is checked against
/// <c>client_ca_file</c>, and the TLS versions. The client authentication types are Go's
/// (<c>tls.ClientAuthType</c>), as exporter-toolkit names them.
/// </summary>
public sealed record TlsSettings(X509Certificate2 Certificate, TlsSettings.ClientAuth ClientAuthType, X509Certificate2Collection? ClientCas,
    SslProtocols Protocols)
{
    public enum ClientAuth { NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert }

    public static readonly TimeSpan HandshakeTime = TimeSpan.FromSeconds(5);

    internal static TlsSettings From(YamlMappingNode map, string name, string directory)
    {
        string? certFile = null, keyFile = null, caFile = null, authType = null, minVersion = null, maxVersion = null;
        long line = map.Start.Line;
        foreach (var (key, value, keyLine) in WebConfig.Entries(map, name))
        {
            string v = WebConfig.Scalar(value, name, $"tls_server_config.{key}");
            switch (key)
            {
                case "cert_file": certFile = v; break;
                case "key_file": keyFile = v; break;
                case "client_ca_file": caFile = v; break;
                case "client_auth_type": authType = v; break;
                case "min_version": minVersion = v; break;
                case "max_version": maxVersion = v; break;
                default: throw WebConfig.Bad(name, $"line {keyLine}: unknown key 'tls_server_config.{key}'");
            }
        }
        if (string.IsNullOrEmpty(certFile)) throw WebConfig.Bad(name, $"line {line}: tls_server_config needs cert_file");
        if (string.IsNullOrEmpty(keyFile)) throw WebConfig.Bad(name, $"line {line}: tls_server_config needs key_file");

        var auth = authType switch
        {
            null or "" => ClientAuth.NoClientCert,
            "RequireClientCert" => ClientAuth.RequireAnyClientCert, // exporter-toolkit's older name
            _ when Enum.TryParse<ClientAuth>(authType, out var a) && Enum.IsDefined(a) && !char.IsDigit(authType[0]) => a,
            _ => throw WebConfig.Bad(name, $"bad client_auth_type '{authType}': NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"),
        };
        if (!string.IsNullOrEmpty(caFile) && auth == ClientAuth.NoClientCert)
            throw WebConfig.Bad(name, "client_ca_file is set but client_auth_type is not (exporter-toolkit refuses this too: say which clients must show a certificate)");
        if (string.IsNullOrEmpty(caFile) && auth is ClientAuth.VerifyClientCertIfGiven or ClientAuth.RequireAndVerifyClientCert)
            throw WebConfig.Bad(name, $"client_auth_type {auth} needs client_ca_file (the CA that signs the clients' certificates)");

        var min = Version(minVersion, SslProtocols.Tls12, name, "min_version");
        var max = Version(maxVersion, SslProtocols.Tls13, name, "max_version");
        if (min > max) throw WebConfig.Bad(name, "min_version is above max_version");
        var protocols = SslProtocols.None;
        foreach (var p in new[] { SslProtocols.Tls12, SslProtocols.Tls13 })
            if (p >= min && p <= max) protocols |= p;

        string cert = Resolve(directory, certFile), keyPath = Resolve(directory, keyFile);
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(cert, keyPath);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw WebConfig.Bad(name, $"cannot load the certificate {cert} with the key {keyPath}: {Reason(e)}");
        }
        X509Certificate2Collection? cas = null;
        if (!string.IsNullOrEmpty(caFile))
        {
            var ca = Resolve(directory, caFile);
            try
            {
                cas = [];
                cas.ImportFromPemFile(ca);
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
            {
                throw WebConfig.Bad(name, $"cannot load client_ca_file {ca}: {Reason(e)}");
            }
            if (cas.Count == 0) throw WebConfig.Bad(name, $"client_ca_file {ca} holds no PEM certificate");
        }
        return new TlsSettings(certificate, auth, cas, protocols);
    }

    /// <summary>Go's names; TLS 1.0 and 1.1 are refused (the OS's OpenSSL disables them, and so does exporter-toolkit by default).</summary>
    private static SslProtocols Version(string? text, SslProtocols fallback, string name, string key) => text switch
    {
        null or "" => fallback,
        "TLS12" => SslProtocols.Tls12,
        "TLS13" => SslProtocols.Tls13,
        "TLS10" or "TLS11" => throw WebConfig.Bad(name, $"{key} {text}: tcpq serves TLS 1.2 and 1.3 only"),
        _ => throw WebConfig.Bad(name, $"bad {key} '{text}': TLS12 or TLS13"),
    };

    private static string Resolve(string directory, string path) => Path.IsPathRooted(path) ? path : Path.Combine(directory, path);

    private static string Reason(Exception e) => e is FileNotFoundException or DirectoryNotFoundException ? "no such file" : e.Message.ReplaceLineEndings(" ").TrimEnd('.');

    public HttpsConnectionAdapterOptions HttpsOptions() => new()
    {
        ServerCertificate = Certificate,
        SslProtocols = Protocols,
        HandshakeTimeout = HandshakeTime,
        CheckCertificateRevocation = false,
        ClientCertificateMode = ClientAuthType switch
        {
            ClientAuth.NoClientCert => ClientCertificateMode.NoCertificate,
            ClientAuth.RequestClientCert or ClientAuth.VerifyClientCertIfGiven => ClientCertificateMode.AllowCertificate,
            _ => ClientCertificateMode.RequireCertificate,
        },
        ClientCertificateValidation = ClientAuthType is ClientAuth.VerifyClientCertIfGiven or ClientAuth.RequireAndVerifyClientCert
            ? (certificate, _, _) => SignedByClientCa(certificate)
            : (_, _, _) => true, // Request/RequireAny: any certificate, unchecked (Go's semantics)
    };

    /// <summary>The client's certificate chains to one of client_ca_file's, and only to those.</summary>
    private bool SignedByClientCa(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(ClientCas!);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2")); // clientAuth, where the certificate says its use
        return chain.Build(certificate);
    }
}
