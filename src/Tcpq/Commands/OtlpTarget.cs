using System.Collections;
using OpenTelemetry.Exporter;

namespace Tcpq.Commands;

/// <summary>
/// Where OTLP goes, for trace's spans and serve's metrics alike: <c>--otlp-endpoint</c> and
/// <c>--otlp-protocol</c>, else OpenTelemetry's standard variables, read as its specification says
/// (the signal's own <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c> / <c>_METRICS_ENDPOINT</c> as given;
/// the base <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> with <c>v1/traces</c> or <c>v1/metrics</c> added for
/// OTLP/HTTP; <c>_PROTOCOL</c>; <c>_HEADERS</c>, where a backend's token travels). Checked before
/// anything starts; a value that cannot be used is one line and <see cref="ExitCode.BadOtlp"/>,
/// which never shows a header's value or a URL's credentials.
/// </summary>
public sealed record OtlpTarget(Uri Endpoint, OtlpExportProtocol Protocol, string? Headers, string From)
{
    public enum Signal { Traces, Metrics }

    /// <summary>The endpoint as tcpq prints it: no user:password@, no query string.</summary>
    public string EndpointText => Serve.RedactedUrl.Of(Endpoint);

    /// <summary>Gzip the requests (<c>OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION=gzip</c>; spans only).</summary>
    public bool Gzip { get; init; }
    /// <summary>How long one request may take (<c>OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT</c>, ms; spans only).</summary>
    public TimeSpan Timeout { get; init; } = Spans.OtlpTraceEndpoint.DefaultTimeout;

    /// <summary>Where tcpq's own span exporter sends (Spans/ConnectionSpanExporter): the headers
    /// decoded as the specification writes them (percent-encoded values).</summary>
    public Spans.OtlpTraceEndpoint SpanEndpoint() =>
        new(Endpoint, Protocol == OtlpExportProtocol.Grpc, HeaderPairs(Headers), Gzip, Timeout);

    /// <summary>"key=value,key2=value2" (checked by <see cref="Resolve"/>) as pairs, values decoded.</summary>
    internal static IReadOnlyList<KeyValuePair<string, string>> HeaderPairs(string? headers)
    {
        if (headers is null) return [];
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var item in headers.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = item.IndexOf('=');
            pairs.Add(new(item[..eq].Trim(), Uri.UnescapeDataString(item[(eq + 1)..].Trim())));
        }
        return pairs;
    }

    /// <summary>The target from the flags, then the variables; null when neither names an endpoint.</summary>
    /// <param name="endpointFlag">--otlp-endpoint as given, or null.</param>
    /// <param name="protocolFlag">--otlp-protocol as given (http or grpc), or null.</param>
    public static OtlpTarget? Resolve(string? endpointFlag, string? protocolFlag, Signal signal, IDictionary? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariables();
        string signalName = signal == Signal.Traces ? "TRACES" : "METRICS";
        string? Var(string name) => environment[name] as string is { Length: > 0 } v ? v : null;

        var protocol = protocolFlag is not null ? ParseProtocolFlag(protocolFlag)
            : Var($"OTEL_EXPORTER_OTLP_{signalName}_PROTOCOL") is { } sp ? ParseProtocolVariable(sp, $"OTEL_EXPORTER_OTLP_{signalName}_PROTOCOL")
            : Var("OTEL_EXPORTER_OTLP_PROTOCOL") is { } p ? ParseProtocolVariable(p, "OTEL_EXPORTER_OTLP_PROTOCOL")
            : OtlpExportProtocol.HttpProtobuf;
        string headersFrom = $"OTEL_EXPORTER_OTLP_{signalName}_HEADERS";
        string? headers = Var(headersFrom) ?? Var(headersFrom = "OTEL_EXPORTER_OTLP_HEADERS");
        if (headers is not null) headers = CheckHeaders(headers, headersFrom);

        // compression and timeout: read for the spans, whose exporter is tcpq's own (serve's
        // metrics go through OpenTelemetry's exporter, which sends uncompressed)
        string compressionFrom = $"OTEL_EXPORTER_OTLP_{signalName}_COMPRESSION";
        string? compression = Var(compressionFrom) ?? Var(compressionFrom = "OTEL_EXPORTER_OTLP_COMPRESSION");
        bool gzip = compression?.Trim() switch
        {
            null or "none" => false,
            "gzip" => true,
            _ => throw new TcpqException(ExitCode.BadOtlp, $"bad {compressionFrom} '{Display(compression)}': gzip or none"),
        };
        string timeoutFrom = $"OTEL_EXPORTER_OTLP_{signalName}_TIMEOUT";
        string? timeoutText = Var(timeoutFrom) ?? Var(timeoutFrom = "OTEL_EXPORTER_OTLP_TIMEOUT");
        var timeout = Spans.OtlpTraceEndpoint.DefaultTimeout;
        if (timeoutText is not null)
            timeout = int.TryParse(timeoutText.Trim(), out int ms) && ms > 0 ? TimeSpan.FromMilliseconds(ms)
                : throw new TcpqException(ExitCode.BadOtlp, $"bad {timeoutFrom} '{Display(timeoutText)}': milliseconds, above 0");

        string path = signal == Signal.Traces ? "v1/traces" : "v1/metrics";
        OtlpTarget? target = null;
        if (endpointFlag is not null)
            target = new(WithSignalPath(ParseUrl(endpointFlag, "--otlp-endpoint"), protocol, path, onlyBare: true), protocol, headers, "--otlp-endpoint");
        else if (Var($"OTEL_EXPORTER_OTLP_{signalName}_ENDPOINT") is { } own)
            target = new(ParseUrl(own, $"OTEL_EXPORTER_OTLP_{signalName}_ENDPOINT"), protocol, headers, $"OTEL_EXPORTER_OTLP_{signalName}_ENDPOINT");
        else if (Var("OTEL_EXPORTER_OTLP_ENDPOINT") is { } base_)
            target = new(WithSignalPath(ParseUrl(base_, "OTEL_EXPORTER_OTLP_ENDPOINT"), protocol, path, onlyBare: false), protocol, headers, "OTEL_EXPORTER_OTLP_ENDPOINT");
        return target is null ? null : target with { Gzip = gzip, Timeout = timeout };
    }

    /// <summary>OTLP/HTTP posts to the signal's path; gRPC takes the endpoint as it is. A flag's URL
    /// with a path of its own is used as given (as serve's always was); the base variable's path is
    /// a prefix, as the specification says.</summary>
    private static Uri WithSignalPath(Uri url, OtlpExportProtocol protocol, string path, bool onlyBare)
    {
        if (protocol != OtlpExportProtocol.HttpProtobuf) return url;
        bool bare = url.AbsolutePath is "" or "/";
        if (onlyBare && !bare) return url;
        var b = new UriBuilder(url);
        b.Path = b.Path.TrimEnd('/') + "/" + path;
        return b.Uri;
    }

    private static Uri ParseUrl(string text, string from)
    {
        if (!Uri.TryCreate(text.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
            throw new TcpqException(ExitCode.BadOtlp, $"bad {from} '{RedactedText(text)}': an http:// or https:// URL, e.g. http://127.0.0.1:4318");
        return uri;
    }

    private static OtlpExportProtocol ParseProtocolFlag(string text) => text.Trim().ToLowerInvariant() switch
    {
        "http" or "http/protobuf" => OtlpExportProtocol.HttpProtobuf,
        "grpc" => OtlpExportProtocol.Grpc,
        _ => throw new TcpqException(ExitCode.BadOtlp, $"bad --otlp-protocol '{Display(text)}': http (OTLP/HTTP protobuf) or grpc"),
    };

    private static OtlpExportProtocol ParseProtocolVariable(string text, string name) => text.Trim() switch
    {
        "http/protobuf" => OtlpExportProtocol.HttpProtobuf,
        "grpc" => OtlpExportProtocol.Grpc,
        "http/json" => throw new TcpqException(ExitCode.BadOtlp, $"{name}=http/json: tcpq sends OTLP as http/protobuf or grpc"),
        _ => throw new TcpqException(ExitCode.BadOtlp, $"bad {name} '{Display(text)}': http/protobuf or grpc"),
    };

    /// <summary>"key=value,key2=value2", values percent-encoded (the specification's W3C baggage
    /// form), given to the exporter as written (it decodes them). A bad one is named by its
    /// position or its key, its value never shown.</summary>
    private static string CheckHeaders(string text, string name)
    {
        var pairs = new List<string>();
        int i = 0;
        foreach (var item in text.Split(','))
        {
            i++;
            if (item.Trim().Length == 0) continue;
            int eq = item.IndexOf('=');
            string key = eq > 0 ? item[..eq].Trim() : "";
            if (key.Length == 0 || !key.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c)))
                throw new TcpqException(ExitCode.BadOtlp, $"bad {name}: item {i} is not key=value (a header name, '=', its value; items separated by commas)");
            string value;
            try { value = Uri.UnescapeDataString(item[(eq + 1)..].Trim()); }
            catch (UriFormatException) { throw new TcpqException(ExitCode.BadOtlp, $"bad {name}: the value of {Display(key)} is not percent-encoded text"); }
            if (value.Any(c => c is '\r' or '\n' or '\0'))
                throw new TcpqException(ExitCode.BadOtlp, $"bad {name}: the value of {Display(key)} holds a line break");
            pairs.Add($"{key}={item[(eq + 1)..].Trim()}");
        }
        return string.Join(',', pairs);
    }

    /// <summary>Text that may not parse as a URL, echoed without credentials or a query
    /// (<see cref="Serve.RedactedUrl"/>, as serve prints its endpoints) and safe for a terminal.</summary>
    private static string RedactedText(string text) => Display(Serve.RedactedUrl.Of(text));

    /// <summary>Safe for a terminal: control characters as \u escapes, at most 200 characters.</summary>
    private static string Display(string text)
    {
        var sb = new System.Text.StringBuilder();
        foreach (char c in text.Length > 200 ? text[..200] + "…" : text)
            if (char.IsControl(c)) sb.Append($"\\u{(int)c:x4}"); else sb.Append(c);
        return sb.ToString();
    }
}
