using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Proto.Collector.Trace.V1;

namespace Tcpq.Tests;

/// <summary>
/// A collector on a loopback port, on Kestrel: OTLP/HTTP (HTTP/1.1, POST /v1/traces) or OTLP/gRPC
/// (HTTP/2 without TLS, the TraceService's Export method, grpc-status in the trailers). It keeps
/// each request as it came (headers, and the ExportTraceServiceRequest decoded after gzip and the
/// gRPC prefix), and answers as the test says: by default, success.
/// </summary>
public sealed class OtlpCollector : IAsyncDisposable
{
    private readonly WebApplication _app;

    /// <summary>One request as it came.</summary>
    public sealed record Received(string Path, string Protocol, string? ContentType, IReadOnlyDictionary<string, string> Headers, bool Compressed, ExportTraceServiceRequest Request);

    public ConcurrentQueue<Received> Requests { get; } = new();
    /// <summary>How to answer the nth request (from 1): an HTTP status, and for gRPC a grpc-status
    /// with its message; headers to add (Retry-After). Default: 200 (and grpc-status 0).</summary>
    public Func<int, (int Http, int? Grpc, string? Message, (string, string)[] Headers)> Answer { get; set; } = _ => (200, 0, null, []);
    /// <summary>Held requests wait until it is set.</summary>
    public ManualResetEventSlim Open { get; } = new(true);
    public bool Grpc { get; }
    public string Url { get; }
    private int _count;

    private OtlpCollector(WebApplication app, bool grpc, string url)
    {
        (_app, Grpc, Url) = (app, grpc, url);
    }

    public static OtlpCollector Start(bool grpc)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = grpc ? HttpProtocols.Http2 : HttpProtocols.Http1));
        var app = builder.Build();
        OtlpCollector? self = null;
        app.Run(context => self!.Take(context));
        app.StartAsync().GetAwaiter().GetResult();
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new OtlpCollector(app, grpc, grpc ? url : url + "/v1/traces");
        return self;
    }

    private async Task Take(HttpContext context)
    {
        int n = Interlocked.Increment(ref _count);
        var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var bytes = body.ToArray();
        bool compressed;
        if (Grpc)
        {
            compressed = bytes[0] == 1;
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(1, 4));
            Assert.Equal(bytes.Length - 5, length); // one message, whole
            bytes = bytes[5..];
        }
        else compressed = context.Request.Headers.ContentEncoding == "gzip";
        if (compressed) bytes = Gunzip(bytes);
        var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
        Requests.Enqueue(new(context.Request.Path, context.Request.Protocol, context.Request.ContentType, headers, compressed,
            ExportTraceServiceRequest.Parser.ParseFrom(bytes)));
        Open.Wait(TimeSpan.FromSeconds(30));

        var (http, grpc, message, extra) = Answer(n);
        context.Response.StatusCode = http;
        foreach (var (name, value) in extra) context.Response.Headers[name] = value;
        if (Grpc && http == 200)
        {
            context.Response.ContentType = "application/grpc";
            await context.Response.Body.WriteAsync(new byte[] { 0, 0, 0, 0, 0 }); // an empty ExportTraceServiceResponse
            context.Response.AppendTrailer("grpc-status", (grpc ?? 0).ToString());
            if (message is not null) context.Response.AppendTrailer("grpc-message", Uri.EscapeDataString(message));
        }
        else if (!Grpc) context.Response.ContentType = "application/x-protobuf";
    }

    private static byte[] Gunzip(byte[] bytes)
    {
        using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
        var to = new MemoryStream();
        gzip.CopyTo(to);
        return to.ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        Open.Set();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Open.Dispose();
    }
}
