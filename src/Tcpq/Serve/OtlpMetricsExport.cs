using System.Diagnostics;
using System.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Tcpq.Aggregates;
using Tcpq.Events;

namespace Tcpq.Serve;

/// <summary>
/// Pushes the same figures as <see cref="PrometheusExposition"/> to an OTLP endpoint with
/// OpenTelemetry .NET (its OTLP exporter is trim- and AOT-clean: no warning under PublishAot).
/// Counters and gauges are observable instruments read from the latest snapshot at each export,
/// exact and cumulative. OpenTelemetry has no observable histogram, so the latency histograms are
/// replayed: each new count of a power-of-two bucket is recorded once at that bucket's middle,
/// into explicit buckets with the Prometheus exporter's bounds — bucket counts exact, the sum
/// within the bucket widths (the Prometheus endpoint's sum is exact).
/// </summary>
public sealed class OtlpMetricsExport : IDisposable
{
    public const string MeterName = "tcpq";

    private readonly Meter _meter = new(MeterName, Version);
    private readonly MeterProvider _provider;
    private readonly Func<AggregateSnapshot> _snapshot;
    private readonly DropReasons _reasons;
    private readonly Dictionary<(ListenerKey Key, int Histogram), long[]> _replayed = [];
    private readonly Histogram<double>[] _histograms;

    private static string Version => typeof(OtlpMetricsExport).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <param name="snapshot">The latest snapshot (cached: every instrument's callback calls it).</param>
    /// <param name="dotnet">--dotnet is on: the snapshots carry the joined .NET processes' figures.</param>
    /// <param name="headers">OTEL_EXPORTER_OTLP_HEADERS as checked by the command (a backend's token), or null.</param>
    public OtlpMetricsExport(Uri endpoint, OtlpExportProtocol protocol, TimeSpan interval, Func<AggregateSnapshot> snapshot, DropReasons reasons, string backend,
        bool dotnet = false, string? headers = null)
    {
        _snapshot = snapshot;
        _reasons = reasons;
        foreach (var c in ListenerMetrics.Counters)
            _meter.CreateObservableCounter(c.Otel, () => PerListener(c.Value), "{" + Unit(c.Otel) + "}", c.Help);
        foreach (var r in ListenerMetrics.Reasons)
            _meter.CreateObservableCounter(r.Otel, () => ByReason(r), "{" + Unit(r.Otel) + "}", r.Help);
        foreach (var g in ListenerMetrics.Gauges)
            _meter.CreateObservableGauge(g.Otel, () => PerListener(g), "{connection}", g.Help);
        _histograms = [.. ListenerMetrics.Histograms.Select(h => _meter.CreateHistogram<double>(h.Otel, "s", h.Help))];
        _meter.CreateObservableCounter("tcpq.events.lost", () => (long)_snapshot().Cost.LostEvents, "{event}", "Events the kernel could not hand to tcpq (ring buffer full), or packets whose verdict it missed.");
        _meter.CreateObservableGauge("tcpq.latency.sample_ratio", () => _snapshot().Cost.LatencySampleRatio is double r ? [new Measurement<double>(r)] : Array.Empty<Measurement<double>>(), "1", "The share of accepts in the queue-wait and SYN-to-accept histograms (counting mode samples them).");
        _meter.CreateObservableCounter("tcpq.listeners.overflowed", () => _snapshot().Cost.ListenersOverflowed, "{listener}", "Listeners past the listener limit, merged into server.address=other.");
        _meter.CreateObservableCounter("tcpq.overhead.program.time", ProgramTime, "s", "Time the kernel spent running tcpq's BPF programs (kernel.bpf_stats_enabled=1).");
        if (dotnet) AddApps(() => _snapshot().Apps);

        double[] bounds = [.. ListenerMetrics.BucketBounds.Select(ListenerMetrics.BoundSeconds)];
        // tcpq pushes itself (see PushLoop) with a reader that has no timer of its own: a push's
        // result is then known, and a failure can be said when it happens
        _exporter = new OtlpMetricExporter(new OtlpExporterOptions
        {
            Endpoint = endpoint,
            Protocol = protocol,
            Headers = headers,
            HttpClientFactory = () => new HttpClient(new FailureReasonHandler(this) { InnerHandler = new SocketsHttpHandler() }) { Timeout = TimeSpan.FromSeconds(10) },
        });
        _reader = new BaseExportingMetricReader(_exporter) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative };
        var builder = Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(r => r.AddService("tcpq", serviceVersion: Version)
                .AddAttributes([new("host.name", Environment.MachineName), new("tcpq.backend", backend)]))
            .AddMeter(MeterName);
        foreach (var h in ListenerMetrics.Histograms)
            builder.AddView(h.Otel, new ExplicitBucketHistogramConfiguration { Boundaries = bounds });
        _provider = builder.AddReader(_reader).Build()!;
        _interval = interval;
        _endpointText = RedactedUrl.Of(endpoint);
    }

    private readonly OtlpMetricExporter _exporter;
    private readonly BaseExportingMetricReader _reader;
    private readonly TimeSpan _interval;
    private readonly string _endpointText;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _pushing = new();
    private Thread? _loop;
    private PushFailureReport? _failures;
    private string? _lastReason;

    /// <summary>Pushes every interval on a thread of its own (a collector that does not answer
    /// holds it, not the scrapes or the serve loop), saying failures on <paramref name="messages"/>
    /// as they happen, at most once a minute.</summary>
    public void Start(TextWriter messages)
    {
        _failures = new PushFailureReport($"OTLP push to {_endpointText}", messages);
        _loop = new Thread(() =>
        {
            while (!_stop.Token.WaitHandle.WaitOne(_interval)) Push(_interval);
        }) { IsBackground = true, Name = "tcpq otlp push" };
        _loop.Start();
    }

    /// <summary>One push of what is there now: histograms replayed, then every instrument read
    /// and sent. True when the collector took it.</summary>
    private bool Push(TimeSpan timeout)
    {
        lock (_pushing)
        {
            _lastReason = null;
            ReplayHistograms();
            bool ok = _reader.Collect((int)Math.Min(timeout.TotalMilliseconds, int.MaxValue));
            if (ok) _failures?.Succeeded();
            else _failures?.Failed(_lastReason ?? "no answer in time");
            return ok;
        }
    }

    /// <summary>What went wrong with the last request, as the exporter itself keeps it to itself.</summary>
    private sealed class FailureReasonHandler(OtlpMetricsExport export) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancel)
        {
            try
            {
                var response = await base.SendAsync(request, cancel);
                if (!response.IsSuccessStatusCode) export._lastReason = $"the collector answered {(int)response.StatusCode} {response.ReasonPhrase}";
                return response;
            }
            catch (HttpRequestException e)
            {
                export._lastReason = (e.InnerException?.Message ?? e.Message).ReplaceLineEndings(" ");
                throw;
            }
            catch (OperationCanceledException)
            {
                export._lastReason = "no answer in time";
                throw;
            }
        }
    }

    /// <summary>The .NET processes joined, as the Prometheus endpoint's tcpq_dotnet_*: the names
    /// follow OpenTelemetry's .NET runtime conventions (dotnet.thread_pool.*, dotnet.gc.pause.time)
    /// under tcpq., by process.pid and process.executable.name.</summary>
    private void AddApps(Func<IReadOnlyList<AppReading>> apps)
    {
        static KeyValuePair<string, object?>[] Tags(AppReading a, string? reason = null) => reason is null
            ? [new("process.pid", (long)a.Pid), new("process.executable.name", a.Comm)]
            : [new("process.pid", (long)a.Pid), new("process.executable.name", a.Comm), new("reason", reason)];
        _meter.CreateObservableGauge("tcpq.dotnet.thread_pool.thread.count", () => apps().Where(a => a.PoolSamples > 0).Select(a => new Measurement<long>(a.Threads, Tags(a))),
            "{thread}", "Threads of the .NET process's thread pool at its last sample.");
        _meter.CreateObservableGauge("tcpq.dotnet.thread_pool.queue.length", () => apps().Where(a => a.PoolSamples > 0).Select(a => new Measurement<long>(a.QueuedWorkItems, Tags(a))),
            "{work_item}", "Work items queued in the .NET process's thread pool at its last sample.");
        _meter.CreateObservableCounter("tcpq.dotnet.thread_pool.injections", () => apps().SelectMany(a => new[]
            {
                new Measurement<long>(a.StarvationInjections, Tags(a, "starvation")), new Measurement<long>(a.BlockingInjections, Tags(a, "cooperative-blocking")),
            }), "{thread}", "Threads the .NET thread pool added because work starved or pool threads blocked on tasks.");
        _meter.CreateObservableCounter("tcpq.dotnet.gc.pauses", () => apps().Select(a => new Measurement<long>(a.GcPauses, Tags(a))), "{pause}", "GC pauses of the .NET process.");
        _meter.CreateObservableCounter("tcpq.dotnet.gc.pause.time", () => apps().Select(a => new Measurement<double>(a.GcPauseSeconds, Tags(a))), "s", "Time the .NET process spent in GC pauses.");
        _meter.CreateObservableCounter("tcpq.dotnet.kestrel.rejected_connections", () => apps().Select(a => new Measurement<long>(a.KestrelRejected, Tags(a))),
            "{connection}", "Connections Kestrel refused because MaxConcurrentConnections was reached.");
    }

    /// <summary>The signal path (/v1/metrics) that OTLP/HTTP needs when the endpoint is set in code,
    /// added to a bare http://host:4318; gRPC takes the endpoint as it is.</summary>
    public static Uri EndpointFor(Uri given, OtlpExportProtocol protocol) =>
        protocol == OtlpExportProtocol.HttpProtobuf && given.AbsolutePath is "" or "/" ? new Uri(given, "/v1/metrics") : given;

    private static string Unit(string otelName) => otelName.Split('.')[^1].TrimEnd('s') switch
    {
        "drop" => "segment",
        "abort" or "accept" or "handshake" => "connection",
        var u => u,
    };

    private IEnumerable<Measurement<double>> ProgramTime() =>
        _snapshot().Cost.ProgramRunTime is TimeSpan t ? [new Measurement<double>(t.TotalSeconds)] : [];

    /// <summary>A gauge where it has a value (<see cref="ListenerMetrics.Shows"/>).</summary>
    private IEnumerable<Measurement<long>> PerListener(ListenerMetrics.Gauge gauge)
    {
        var s = _snapshot();
        foreach (var a in s.Listeners)
            if (ListenerMetrics.Shows(gauge, s, a)) yield return new(gauge.Value(a), Tags(s, a.Key));
    }

    private IEnumerable<Measurement<long>> PerListener(Func<ListenerAggregate, long> value)
    {
        var s = _snapshot();
        foreach (var a in s.Listeners) yield return new(value(a), Tags(s, a.Key));
        if (s.OtherListeners is { } o) yield return new(value(o), OtherTags);
    }

    private IEnumerable<Measurement<long>> ByReason(ListenerMetrics.ByReason r)
    {
        var s = _snapshot();
        foreach (var a in s.OtherListeners is { } o ? s.Listeners.Append(o) : s.Listeners)
        {
            var tags = ReferenceEquals(a, s.OtherListeners) ? OtherTags : Tags(s, a.Key);
            foreach (var (segment, reason, count) in r.Values(a))
            {
                var t = new TagList(tags) { { "reason", reason == 0 ? "unknown" : _reasons.Name(reason) } };
                if (segment is not null) t.Add("segment", segment);
                yield return new(count, t);
            }
        }
    }

    private static KeyValuePair<string, object?>[] Tags(AggregateSnapshot s, in ListenerKey key) => ListenerAttributes(key, s.Workloads.GetValueOrDefault(key));

    /// <summary>A listener's attributes: OpenTelemetry's server.*, network.type, netns, then where
    /// it runs (container.id, k8s.pod.uid…), when it runs in a container or pod.</summary>
    internal static KeyValuePair<string, object?>[] ListenerAttributes(in ListenerKey key, Workload? workload)
    {
        KeyValuePair<string, object?>[] tags =
        [
            new("server.address", key.AddressText),
            new("server.port", (int)key.Port),
            new("network.type", ListenerMetrics.NetworkType(key)),
            new("netns", (long)key.NetNs),
        ];
        return workload is null ? tags : [.. tags, .. workload.Attributes().Select(a => new KeyValuePair<string, object?>(a.Otel, a.Value))];
    }

    private static readonly KeyValuePair<string, object?>[] OtherTags = [new("server.address", ListenerMetrics.Other)];

    /// <summary>Records what the histograms gained since the last call (see the class comment);
    /// before each push, under its lock.</summary>
    private void ReplayHistograms()
    {
        var s = _snapshot();
        foreach (var a in s.OtherListeners is { } o ? s.Listeners.Append(o) : s.Listeners)
        {
            var tags = new TagList(ReferenceEquals(a, s.OtherListeners) ? OtherTags : Tags(s, a.Key));
            for (int h = 0; h < ListenerMetrics.Histograms.Length; h++)
            {
                var counts = ListenerMetrics.Histograms[h].Value(a).Counts;
                if (!_replayed.TryGetValue((a.Key, h), out var done)) _replayed[(a.Key, h)] = done = new long[Log2Histogram.Buckets];
                for (int k = 0; k < counts.Length; k++)
                {
                    long more = counts[k] - done[k];
                    if (more <= 0) continue;
                    double middle = k == 0 ? 0.5e-6 : 0.75 * (1L << k) / 1e6;
                    for (long i = 0; i < more; i++) _histograms[h].Record(middle, tags);
                    done[k] = counts[k];
                }
            }
        }
    }

    /// <summary>Sends what is pending now (at exit, so the last interval is not lost).</summary>
    public bool Flush(TimeSpan timeout)
    {
        StopLoop();
        return Push(timeout);
    }

    private void StopLoop()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _loop?.Join(TimeSpan.FromSeconds(15));
    }

    public void Dispose()
    {
        StopLoop();
        _provider.Dispose();
        _meter.Dispose();
        _stop.Dispose();
    }
}
