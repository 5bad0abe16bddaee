using System.Diagnostics;
using OpenTelemetry.Trace;

// kestrel-app PORT [MAX_CONNECTIONS]: listens on 127.0.0.1:PORT.
//   /ok     answers at once
//   /block  holds its pool thread: Thread.Sleep, then .Result on a task that needs another pool thread
//   /alloc  allocates (large objects), for GC pauses
//   /ids    the request's own span, as its tracing sees it: "TRACE_ID SPAN_ID\n" (Activity.Current)
// With KESTREL_APP_OTEL=1 the app traces its requests with OpenTelemetry (ASP.NET Core's own
// HttpRequestIn activity, sampled by OpenTelemetry's default sampler; no exporter: what is asked
// of it is only that its spans exist), as an instrumented production app does.
var port = int.Parse(args[0]);
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.ListenLocalhost(port);
    if (args.Length > 1) k.Limits.MaxConcurrentConnections = long.Parse(args[1]);
});
builder.WebHost.UseKestrelCore();
if (Environment.GetEnvironmentVariable("KESTREL_APP_OTEL") == "1")
    builder.Services.AddOpenTelemetry().WithTracing(t => t.AddAspNetCoreInstrumentation());
var app = builder.Build();
app.MapGet("/ok", () => "ok\n");
app.MapGet("/block", () =>
{
    Thread.Sleep(100);
    return Task.Run(() => { Thread.Sleep(20); return "blocked\n"; }).Result;
});
app.MapGet("/alloc", () =>
{
    long sum = 0;
    for (int i = 0; i < 200; i++) sum += new byte[100_000].Length;
    return $"{sum}\n";
});
app.MapGet("/ids", () => Activity.Current is { } a ? $"{a.TraceId} {a.SpanId}\n" : "none\n");
app.Run();
