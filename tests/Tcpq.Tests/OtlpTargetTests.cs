using System.Collections;
using OpenTelemetry.Exporter;
using Tcpq.Commands;

namespace Tcpq.Tests;

/// <summary>Where OTLP goes, from the flags and OpenTelemetry's standard variables (read from a
/// dictionary here, never from the test process's environment), and the one line a bad value gives.</summary>
public class OtlpTargetTests
{
    private static OtlpTarget? Resolve(string? flag, string? protocol, OtlpTarget.Signal signal = OtlpTarget.Signal.Traces, params (string Name, string Value)[] env) =>
        OtlpTarget.Resolve(flag, protocol, signal, env.ToDictionary(v => v.Name, v => (object?)v.Value) as IDictionary);

    [Fact]
    public void Neither_flag_nor_variable_is_no_target() => Assert.Null(Resolve(null, null));

    [Theory]
    [InlineData("http://127.0.0.1:4318", null, "http://127.0.0.1:4318/v1/traces", OtlpExportProtocol.HttpProtobuf)]
    [InlineData("http://127.0.0.1:4318/", "http", "http://127.0.0.1:4318/v1/traces", OtlpExportProtocol.HttpProtobuf)]
    [InlineData("http://collector:4318/custom/path", null, "http://collector:4318/custom/path", OtlpExportProtocol.HttpProtobuf)]
    [InlineData("http://127.0.0.1:4317", "grpc", "http://127.0.0.1:4317/", OtlpExportProtocol.Grpc)]
    [InlineData("https://otlp.example:443", "GRPC", "https://otlp.example/", OtlpExportProtocol.Grpc)]
    public void The_flags_name_the_endpoint_and_the_protocol(string flag, string? protocol, string url, OtlpExportProtocol expected)
    {
        var t = Resolve(flag, protocol)!;
        Assert.Equal((url, expected, "--otlp-endpoint"), (t.Endpoint.ToString(), t.Protocol, t.From));
    }

    [Fact]
    public void The_base_variable_gets_the_signals_path_for_http_and_nothing_for_grpc()
    {
        Assert.Equal("http://c:4318/v1/traces", Resolve(null, null, env: ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"))!.Endpoint.ToString());
        Assert.Equal("http://c:4318/otlp/v1/metrics", Resolve(null, null, OtlpTarget.Signal.Metrics, ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/otlp/"))!.Endpoint.ToString());
        var grpc = Resolve(null, null, env: [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])!;
        Assert.Equal(("http://c:4317/", OtlpExportProtocol.Grpc, "OTEL_EXPORTER_OTLP_ENDPOINT"), (grpc.Endpoint.ToString(), grpc.Protocol, grpc.From));
    }

    [Fact]
    public void The_signals_own_variables_come_first_and_the_flags_before_any()
    {
        (string, string)[] env =
        [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"), ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4318/v1/traces"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-base=1"), ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-traces=2"),
        ];
        var traces = Resolve(null, null, OtlpTarget.Signal.Traces, env)!;
        Assert.Equal(("http://traces:4318/v1/traces", OtlpExportProtocol.HttpProtobuf, "x-traces=2"), (traces.Endpoint.ToString(), traces.Protocol, traces.Headers));
        var metrics = Resolve(null, null, OtlpTarget.Signal.Metrics, env)!;
        Assert.Equal(("http://base:4318/", OtlpExportProtocol.Grpc, "x-base=1"), (metrics.Endpoint.ToString(), metrics.Protocol, metrics.Headers));
        var flags = Resolve("http://flag:4318", "http", OtlpTarget.Signal.Metrics, env)!;
        Assert.Equal(("http://flag:4318/v1/metrics", OtlpExportProtocol.HttpProtobuf, "x-base=1"), (flags.Endpoint.ToString(), flags.Protocol, flags.Headers));
    }

    [Fact]
    public void Headers_go_to_the_span_exporter_decoded_and_to_the_metrics_exporter_as_written()
    {
        var t = Resolve("http://c:4318", null, env: ("OTEL_EXPORTER_OTLP_HEADERS", " authorization=Bearer%20s3cret , x-tenant=shop,"))!;
        Assert.Equal("authorization=Bearer%20s3cret,x-tenant=shop", t.Headers);
        var e = t.SpanEndpoint();
        Assert.Equal([new("authorization", "Bearer s3cret"), new("x-tenant", "shop")], e.Headers);
        Assert.Equal(("http://c:4318/v1/traces", false, false, TimeSpan.FromSeconds(10)), (e.Url.ToString(), e.Grpc, e.Gzip, e.Timeout));
    }

    [Fact]
    public void Compression_and_timeout_come_from_the_signals_variable_then_the_base_one()
    {
        var t = Resolve("http://c:4317", "grpc", env: [("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"), ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")])!.SpanEndpoint();
        Assert.Equal((true, true, TimeSpan.FromMilliseconds(2500)), (t.Grpc, t.Gzip, t.Timeout));
        var own = Resolve("http://c:4318", null, env: [("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"), ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none"), ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "100")])!;
        Assert.Equal((false, TimeSpan.FromMilliseconds(100)), (own.Gzip, own.Timeout));
    }

    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd", "bad OTEL_EXPORTER_OTLP_COMPRESSION 'zstd': gzip or none")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "10s", "bad OTEL_EXPORTER_OTLP_TRACES_TIMEOUT '10s': milliseconds, above 0")]
    public void A_bad_compression_or_timeout_is_exit_13(string name, string value, string message)
    {
        var e = Assert.Throws<TcpqException>(() => Resolve("http://c:4318", null, env: (name, value)));
        Assert.Equal((ExitCode.BadOtlp, message), (e.Code, e.Message));
    }

    [Theory]
    [InlineData("--otlp-endpoint", "127.0.0.1:4318", "bad --otlp-endpoint '127.0.0.1:4318': an http:// or https:// URL")]
    [InlineData("--otlp-endpoint", "ftp://x/", "bad --otlp-endpoint 'ftp://x/'")]
    [InlineData("--otlp-endpoint", "http://user:s3cret@c:4318/?token=s3cret", "bad --otlp-protocol 'pigeon'")]
    public void A_bad_flag_is_exit_13_in_one_line_without_credentials(string flag, string value, string message)
    {
        string[] args = value.Contains("s3cret") ? ["trace", flag, value, "--otlp-protocol", "pigeon"] : ["trace", flag, value];
        foreach (var verb in new[] { "trace", "serve" })
        {
            var console = new TestConsole();
            args[0] = verb;
            int code = TcpqProgram.Run(args, console.Console);
            Assert.Equal((int)ExitCode.BadOtlp, code);
            var line = Assert.Single(console.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains(message, line);
            Assert.DoesNotContain("s3cret", line);
        }
    }

    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "user:s3cret@collector:4318", "bad OTEL_EXPORTER_OTLP_ENDPOINT '…@collector:4318'")]
    [InlineData("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "OTEL_EXPORTER_OTLP_PROTOCOL=http/json: tcpq sends OTLP as http/protobuf or grpc")]
    [InlineData("OTEL_EXPORTER_OTLP_PROTOCOL", "udp", "bad OTEL_EXPORTER_OTLP_PROTOCOL 'udp'")]
    [InlineData("OTEL_EXPORTER_OTLP_HEADERS", "authorization: Bearer s3cret", "bad OTEL_EXPORTER_OTLP_HEADERS: item 1 is not key=value")]
    [InlineData("OTEL_EXPORTER_OTLP_HEADERS", "x=1,=s3cret", "bad OTEL_EXPORTER_OTLP_HEADERS: item 2 is not key=value")]
    [InlineData("OTEL_EXPORTER_OTLP_HEADERS", "authorization=s3cret%0d%0aX-Evil: 1", "the value of authorization holds a line break")]
    public void A_bad_variable_is_named_and_its_secret_is_not_shown(string name, string value, string message)
    {
        (string, string)[] env = name.EndsWith("_ENDPOINT") ? [(name, value)] : [(name, value), ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/v1/traces")];
        var e = Assert.Throws<TcpqException>(() => Resolve(null, null, env: env));
        Assert.Equal(ExitCode.BadOtlp, e.Code);
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain("s3cret", e.Message);
    }

    [Theory]
    [InlineData("http://user:pass@collector:4318/v1/traces", "http://…@collector:4318/v1/traces")]
    [InlineData("https://collector/v1/traces?api-key=s3cret", "https://collector/v1/traces?…")]
    [InlineData("http://127.0.0.1:4318/v1/traces", "http://127.0.0.1:4318/v1/traces")]
    public void Endpoints_are_printed_without_credentials(string url, string printed) =>
        Assert.Equal(printed, Serve.RedactedUrl.Of(new Uri(url)));

    [Fact]
    public void A_protocol_without_an_endpoint_is_a_usage_error()
    {
        var console = new TestConsole();
        Assert.Equal((int)ExitCode.Usage, TcpqProgram.Run(["trace", "--otlp-protocol", "grpc"], console.Console));
        Assert.Contains("--otlp-protocol needs --otlp-endpoint", console.Error);
    }
}
