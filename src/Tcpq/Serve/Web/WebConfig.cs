using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Tcpq.Serve.Web;

/// <summary>
/// <c>--web-config FILE</c>, in the format of Prometheus's exporter-toolkit (as node_exporter and
/// the official exporters take it): <c>tls_server_config</c> (<c>cert_file</c>, <c>key_file</c>,
/// <c>client_auth_type</c>, <c>client_ca_file</c>, <c>min_version</c>, <c>max_version</c>) and
/// <c>basic_auth_users</c> (user: bcrypt hash). Strict as exporter-toolkit is: an unknown key is an
/// error, and so is a key of the format that tcpq does not implement (a security setting silently
/// ignored would be worse). Relative paths are relative to the file's folder. Everything is loaded
/// and checked at start (certificates, keys, hashes): a bad file is one line, exit 12.
/// </summary>
public sealed record WebConfig(TlsSettings? Tls, IReadOnlyDictionary<string, string>? Users)
{
    private static readonly string[] Unsupported = ["cipher_suites", "curve_preferences", "prefer_server_cipher_suites", "client_allowed_sans", "cert", "key"];

    public static WebConfig Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // in the shell's words: "permission denied", not .NET's "Access to the path … is denied"
            throw Bad(path, FileProblem.Describe(path, e));
        }
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        return Parse(text, path, directory);
    }

    /// <summary>Parses the YAML text; <paramref name="directory"/> anchors relative paths.</summary>
    public static WebConfig Parse(string text, string name, string directory)
    {
        YamlMappingNode? root;
        try
        {
            var yaml = new YamlStream();
            yaml.Load(new StringReader(text));
            if (yaml.Documents.Count == 0) return new WebConfig(null, null); // an empty file: plain HTTP, as exporter-toolkit
            if (yaml.Documents.Count > 1) throw Bad(name, "holds more than one YAML document");
            root = yaml.Documents[0].RootNode as YamlMappingNode;
            if (root is null)
            {
                if (yaml.Documents[0].RootNode is YamlScalarNode { Value: null or "" }) return new WebConfig(null, null);
                throw Bad(name, $"line {yaml.Documents[0].RootNode.Start.Line}: expected keys (tls_server_config, basic_auth_users)");
            }
        }
        catch (YamlException e)
        {
            throw Bad(name, $"line {e.Start.Line}: not valid YAML ({OneLine(e.InnerException?.Message ?? e.Message)})");
        }

        TlsSettings? tls = null;
        Dictionary<string, string>? users = null;
        foreach (var (key, value, keyLine) in Entries(root, name))
        {
            switch (key)
            {
                case "tls_server_config":
                    tls = TlsSettings.From(Mapping(value, name, key), name, directory);
                    break;
                case "basic_auth_users":
                    users = ReadUsers(value, name);
                    break;
                case "http_server_config":
                    HttpServerConfig(value, name);
                    break;
                default:
                    throw Bad(name, $"line {keyLine}: unknown key '{key}' (known: tls_server_config, basic_auth_users, http_server_config)");
            }
        }
        return new WebConfig(tls, users);
    }

    /// <summary>tcpq speaks HTTP/1.1 only and sets no extra headers: <c>http2: false</c> is accepted, nothing else.</summary>
    private static void HttpServerConfig(YamlNode value, string name)
    {
        foreach (var (key, v, _) in Entries(Mapping(value, name, "http_server_config"), name))
        {
            if (key == "http2" && Scalar(v, name, key) is "false") continue;
            throw Bad(name, $"line {v.Start.Line}: http_server_config.{key} is not supported by tcpq (it serves HTTP/1.1 and sets no extra headers)");
        }
    }

    private static Dictionary<string, string> ReadUsers(YamlNode value, string name)
    {
        var users = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (user, hash, _) in Entries(Mapping(value, name, "basic_auth_users"), name))
        {
            var h = Scalar(hash, name, $"basic_auth_users.{user}");
            if (!BasicAuthCheck.IsBcryptHash(h))
                throw Bad(name, $"line {hash.Start.Line}: the password of '{user}' is not a bcrypt hash ($2a$, $2b$ or $2y$, e.g. from htpasswd -nbB)");
            if (user.Contains(':')) throw Bad(name, $"line {hash.Start.Line}: a basic auth user name cannot hold ':'");
            users[user] = h;
        }
        return users;
    }

    /// <summary>A mapping's entries, each with the line of its key (where a person looks for a wrong name).</summary>
    internal static IEnumerable<(string Key, YamlNode Value, long KeyLine)> Entries(YamlMappingNode map, string name)
    {
        foreach (var (k, v) in map.Children)
        {
            if (k is not YamlScalarNode { Value: { } key })
                throw Bad(name, $"line {k.Start.Line}: a key must be a plain name");
            if (Unsupported.Contains(key))
                throw Bad(name, $"line {k.Start.Line}: {key} is not supported by tcpq (cert_file/key_file, client_auth_type, client_ca_file, min_version and max_version are)");
            yield return (key, v, k.Start.Line);
        }
    }

    internal static YamlMappingNode Mapping(YamlNode node, string name, string key) =>
        node as YamlMappingNode
        ?? (node is YamlScalarNode { Value: null or "" } ? new YamlMappingNode() : throw Bad(name, $"line {node.Start.Line}: {key} must hold keys"));

    internal static string Scalar(YamlNode node, string name, string key) =>
        node is YamlScalarNode { Value: { } v } ? v : throw Bad(name, $"line {node.Start.Line}: {key} must be a single value");

    internal static TcpqException Bad(string name, string what) =>
        new(ExitCode.BadConfig, $"bad --web-config {name}: {what}");

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
