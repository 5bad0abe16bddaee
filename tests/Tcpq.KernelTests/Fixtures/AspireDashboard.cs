using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// The Aspire dashboard as a real OTLP backend: the executable NuGet's
/// <c>Aspire.Dashboard.Sdk.linux-x64</c> ships (restored with this project, see its csproj), started
/// standalone on free loopback ports for its UI, OTLP/gRPC and OTLP/HTTP, with its telemetry API on
/// and no login. What tcpq sent is read back through <c>GET /api/telemetry/traces</c> and
/// <c>/resources</c>, as OTLP JSON. With <paramref name="otlpApiKey"/>, its OTLP endpoints refuse
/// what does not carry the key in the <c>x-otlp-api-key</c> header.
/// </summary>
public sealed class AspireDashboard : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _log = [];
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public string Ui { get; }
    public string OtlpGrpc { get; }
    public string OtlpHttp { get; }

    private AspireDashboard(Process process, string ui, string grpc, string http)
    {
        _process = process;
        (Ui, OtlpGrpc, OtlpHttp) = (ui, grpc, http);
    }

    /// <summary>Where the test build found the dashboard: the restored package's executable.</summary>
    public static string Executable
    {
        get
        {
            var path = typeof(AspireDashboard).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .FirstOrDefault(a => a.Key == "AspireDashboard")?.Value;
            if (path is null || !File.Exists(path))
                throw new InvalidOperationException($"the Aspire dashboard is not restored ({path ?? "no path"}): dotnet restore tests/Tcpq.KernelTests brings it from NuGet");
            return path;
        }
    }

    public static AspireDashboard Start(string? otlpApiKey = null)
    {
        var exe = Executable;
        // NuGet keeps the package's executable bit (its UnixFilePermissions.xml) only on some versions
        if ((File.GetUnixFileMode(exe) & UnixFileMode.UserExecute) == 0)
            File.SetUnixFileMode(exe, File.GetUnixFileMode(exe) | UnixFileMode.UserExecute);
        string ui = $"http://127.0.0.1:{FreePort()}", grpc = $"http://127.0.0.1:{FreePort()}", http = $"http://127.0.0.1:{FreePort()}";
        var psi = new ProcessStartInfo(exe) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = Path.GetDirectoryName(exe)! };
        psi.Environment["ASPNETCORE_URLS"] = ui;
        psi.Environment["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = grpc;
        psi.Environment["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = http;
        // no login anywhere (ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS), or, with a key, none but
        // for OTLP (that variable would turn the key off too)
        if (otlpApiKey is null) psi.Environment["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true";
        else psi.Environment["Dashboard__Frontend__AuthMode"] = "Unsecured";
        psi.Environment["Dashboard__Api__Enabled"] = "true";
        psi.Environment["Dashboard__Api__AuthMode"] = "Unsecured";
        psi.Environment["Dashboard__TelemetryLimits__MaxTraceCount"] = "100000";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        if (otlpApiKey is not null)
        {
            psi.Environment["Dashboard__Otlp__AuthMode"] = "ApiKey";
            psi.Environment["Dashboard__Otlp__PrimaryApiKey"] = otlpApiKey;
        }
        var p = Process.Start(psi)!;
        var d = new AspireDashboard(p, ui, grpc, http);
        p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (d._log) d._log.Add(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (d._log) d._log.Add(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var sw = Stopwatch.StartNew();
        while (!d.Ready())
        {
            if (p.HasExited || sw.Elapsed > TimeSpan.FromSeconds(60))
            {
                var log = d.Log;
                d.Dispose();
                throw new InvalidOperationException($"the Aspire dashboard did not start on {ui}: {log}");
            }
            Thread.Sleep(200);
        }
        return d;
    }

    public string Log { get { lock (_log) return string.Join(" | ", _log.TakeLast(20)); } }

    private bool Ready()
    {
        try { return Http.GetAsync($"{Ui}/api/telemetry/resources").GetAwaiter().GetResult().IsSuccessStatusCode; }
        catch (HttpRequestException) { return false; }
        catch (TaskCanceledException) { return false; }
    }

    private static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>Every span the dashboard holds, grouped by trace.</summary>
    public List<StoredTrace> Traces()
    {
        var json = Http.GetStringAsync($"{Ui}/api/telemetry/traces?limit=100000").GetAwaiter().GetResult();
        using var doc = JsonDocument.Parse(json);
        var spans = new List<StoredSpan>();
        foreach (var rs in doc.RootElement.GetProperty("data").GetProperty("resourceSpans").EnumerateArray())
        {
            string service = Attributes(rs.GetProperty("resource")).GetValueOrDefault("service.name") ?? "";
            foreach (var ss in rs.GetProperty("scopeSpans").EnumerateArray())
                foreach (var s in ss.GetProperty("spans").EnumerateArray())
                    spans.Add(StoredSpan.Parse(s, service));
        }
        return [.. spans.GroupBy(s => s.TraceId).Select(g => new StoredTrace(g.Key, [.. g]))];
    }

    /// <summary>tcpq's traces whose connection span was to <paramref name="port"/> in network
    /// namespace <paramref name="netns"/> (both: the kernel reuses a deleted namespace's inode).</summary>
    public List<StoredTrace> TracesOf(uint netns, int port) =>
        [.. Traces().Where(t => t.Root is { } r && r.Attributes.GetValueOrDefault("tcpq.netns") == netns.ToString() && r.Attributes.GetValueOrDefault("server.port") == port.ToString())];

    /// <summary>Polls until <paramref name="done"/> holds or <paramref name="timeout"/> passes; the last reading.</summary>
    public List<StoredTrace> WaitForTraces(uint netns, int port, Func<List<StoredTrace>, bool> done, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var traces = TracesOf(netns, port);
            if (done(traces) || sw.Elapsed > timeout) return traces;
            Thread.Sleep(250);
        }
    }

    /// <summary>The resources that sent telemetry: (instance id, service name, has traces, has metrics).</summary>
    public List<(string Instance, string Name, bool HasTraces, bool HasMetrics)> Resources()
    {
        var json = Http.GetStringAsync($"{Ui}/api/telemetry/resources").GetAwaiter().GetResult();
        using var doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.EnumerateArray().Select(r => (
            r.TryGetProperty("instanceId", out var i) ? i.GetString() ?? "" : "",
            r.GetProperty("name").GetString() ?? "",
            r.GetProperty("hasTraces").GetBoolean(),
            r.GetProperty("hasMetrics").GetBoolean()))];
    }

    internal static Dictionary<string, string> Attributes(JsonElement owner)
    {
        var d = new Dictionary<string, string>();
        if (!owner.TryGetProperty("attributes", out var attrs)) return d;
        foreach (var a in attrs.EnumerateArray())
        {
            var v = a.GetProperty("value");
            var value = v.EnumerateObject().FirstOrDefault();
            d[a.GetProperty("key").GetString()!] = value.Value.ValueKind == JsonValueKind.String ? value.Value.GetString()! : value.Value.ToString();
        }
        return d;
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) { _process.Kill(entireProcessTree: true); _process.WaitForExit(10_000); } } catch (InvalidOperationException) { }
        _process.Dispose();
    }
}

/// <summary>One span as the dashboard returned it (OTLP JSON).</summary>
public sealed record StoredSpan(string TraceId, string SpanId, string? ParentSpanId, string Name, int Kind, ulong StartNs, ulong EndNs,
    Dictionary<string, string> Attributes, List<(string Name, Dictionary<string, string> Attributes)> Events, int StatusCode, string? StatusMessage,
    List<(string TraceId, string SpanId)> Links, string Service)
{
    public TimeSpan Duration => TimeSpan.FromTicks((long)((EndNs - StartNs) / 100));

    public static StoredSpan Parse(JsonElement s, string service)
    {
        string? Str(string name) => s.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
        var events = s.TryGetProperty("events", out var ev)
            ? ev.EnumerateArray().Select(e => (e.GetProperty("name").GetString()!, AspireDashboard.Attributes(e))).ToList()
            : [];
        var links = s.TryGetProperty("links", out var ln)
            ? ln.EnumerateArray().Select(l => (l.GetProperty("traceId").GetString()!, l.GetProperty("spanId").GetString()!)).ToList()
            : [];
        int code = 0;
        string? message = null;
        if (s.TryGetProperty("status", out var st))
        {
            if (st.TryGetProperty("code", out var c)) code = c.ValueKind == JsonValueKind.Number ? c.GetInt32() : c.GetString() switch { "STATUS_CODE_ERROR" => 2, "STATUS_CODE_OK" => 1, _ => 0 };
            if (st.TryGetProperty("message", out var m)) message = m.GetString();
        }
        return new(Str("traceId")!, Str("spanId")!, Str("parentSpanId"), Str("name")!, s.TryGetProperty("kind", out var k) ? k.GetInt32() : 0,
            ulong.Parse(Str("startTimeUnixNano")!), ulong.Parse(Str("endTimeUnixNano")!), AspireDashboard.Attributes(s), events, code, message, links, service);
    }
}

/// <summary>The spans of one trace; its root is the span without a parent.</summary>
public sealed record StoredTrace(string TraceId, List<StoredSpan> Spans)
{
    public StoredSpan? Root => Spans.FirstOrDefault(s => string.IsNullOrEmpty(s.ParentSpanId));
    public StoredSpan? Child(string name) => Spans.FirstOrDefault(s => s.Name == name && !string.IsNullOrEmpty(s.ParentSpanId));
}
