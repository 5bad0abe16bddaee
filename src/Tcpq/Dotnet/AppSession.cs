using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace Tcpq.Dotnet;

/// <summary>
/// One EventPipe session in one .NET process, through its diagnostics socket: the runtime's
/// client library (Microsoft.Diagnostics.NETCore.Client) speaks the IPC protocol, TraceEvent
/// parses the nettrace stream on a thread of its own, and <see cref="AppEventDecoder"/> turns the
/// few events tcpq asks for into rows. What is asked for is cheap (see <see cref="Providers"/>).
/// </summary>
public sealed class AppSession : IDisposable
{
    public const string KestrelProvider = "Microsoft-AspNetCore-Server-Kestrel";
    public const string RuntimeProvider = "Microsoft-Windows-DotNETRuntime";
    public const string CountersProvider = "System.Runtime";
    private const long GcKeyword = 0x1, ThreadingKeyword = 0x10000;

    // Kestrel's event ids (its EventSource's manifest, .NET 8-10)
    internal const uint KestrelConnectionStart = 1, KestrelConnectionStop = 2, KestrelRequestStart = 3, KestrelRequestStop = 4, KestrelConnectionRejected = 5;
    // the runtime's: GCRestartEEEnd, GCSuspendEEBegin, ThreadPoolWorkerThreadAdjustmentAdjustment
    internal const uint RuntimeRestartEEStop = 3, RuntimeSuspendEEStart = 9, RuntimeThreadPoolAdjustment = 55;

    /// <summary>Kestrel's event ids asked for at each depth (none at <see cref="AppDepth.Process"/>).</summary>
    internal static uint[] KestrelEvents(AppDepth depth) => depth switch
    {
        AppDepth.Requests => [KestrelConnectionStart, KestrelConnectionStop, KestrelRequestStart, KestrelRequestStop, KestrelConnectionRejected],
        AppDepth.Connections => [KestrelConnectionStart, KestrelConnectionStop, KestrelConnectionRejected],
        _ => [],
    };

    /// <summary>The meter Kestrel counts its refusals in (ASP.NET Core 8+), and the counter.</summary>
    public const string MetricsProvider = "System.Diagnostics.Metrics";
    public const string KestrelMeter = "Microsoft.AspNetCore.Server.Kestrel", RejectedConnections = "kestrel.rejected_connections";
    private const long TimeSeriesValuesKeyword = 0x2, MessagesKeyword = 0x1;

    /// <summary>
    /// What the session asks for, and no more, because every event the target writes costs it
    /// time on the thread that writes it (bench/dotnet/cost.py, bench/RESULTS.md):
    /// <list type="bullet">
    /// <item>By default (<see cref="AppDepth.Process"/>) not Kestrel's EventSource at all: once it
    /// is enabled, whatever events the session filters for, Kestrel builds every request's
    /// payload (its trace identifier, path, method) and hands it to the runtime, which only then
    /// drops it; a few per cent of a trivial endpoint's rate at saturation. Its refusals come from
    /// its meter instead (<c>kestrel.rejected_connections</c>, counted once a second by the
    /// runtime's own aggregator: the counter costs only when a connection is refused).</item>
    /// <item>Kestrel's connection start/stop (<see cref="AppDepth.Connections"/>) and request
    /// start/stop (<see cref="AppDepth.Requests"/>), and its refusals as events, only when their
    /// rows are asked for.</item>
    /// <item>The runtime's GC suspend/restart and the thread pool's adjustments, by event id: the
    /// GC and Threading keywords alone would also bring the pool's per-idle-transition
    /// <c>ThreadPoolWorkerThreadWait</c> and the GC's heap statistics.</item>
    /// <item>The System.Runtime counters once a second.</item>
    /// </list>
    /// Per-event filters need a .NET 10 target (EventPipe's CollectTracing5);
    /// <paramref name="filtered"/> false is the older runtimes' fallback (keywords and levels
    /// only). No stacks are walked.
    /// <para>With <paramref name="requestSpans"/>, also the DiagnosticSource bridge for ASP.NET
    /// Core's <c>HttpRequestIn.Start</c>: each request's span ids and connection
    /// (<see cref="RequestSpanDecoder"/>), only when spans are asked for.</para>
    /// </summary>
    public static IReadOnlyList<EventPipeProvider> Providers(AppDepth depth, bool filtered = true, bool requestSpans = false)
    {
        var list = new List<EventPipeProvider>();
        if (depth == AppDepth.Process)
            // the session id SHARED and dotnet-counters' defaults: a dotnet-counters or dotnet-monitor
            // watching the same process shares the runtime's one aggregator instead of failing
            list.Add(new(MetricsProvider, EventLevel.Informational, TimeSeriesValuesKeyword | MessagesKeyword, new Dictionary<string, string>
            {
                ["SessionId"] = "SHARED", ["ClientId"] = Guid.NewGuid().ToString(), ["Metrics"] = KestrelMeter + "\\" + RejectedConnections,
                ["RefreshInterval"] = "1", ["MaxTimeSeries"] = "1000", ["MaxHistograms"] = "10",
            }));
        else
            list.Add(filtered
                ? new(KestrelProvider, EventLevel.Informational, 0, null, new EventPipeProviderEventFilter(enable: true, KestrelEvents(depth)))
                : new(KestrelProvider, EventLevel.Informational));
        list.Add(filtered
            ? new(RuntimeProvider, EventLevel.Informational, GcKeyword | ThreadingKeyword, null,
                new EventPipeProviderEventFilter(enable: true, [RuntimeRestartEEStop, RuntimeSuspendEEStart, RuntimeThreadPoolAdjustment]))
            : new(RuntimeProvider, EventLevel.Informational, GcKeyword | ThreadingKeyword));
        list.Add(new(CountersProvider, EventLevel.Informational, -1, new Dictionary<string, string> { ["EventCounterIntervalSec"] = "1" }));
        if (requestSpans) list.Add(RequestSpanDecoder.EventPipeProvider());
        return list;
    }

    private static readonly Lock TmpDirLock = new();

    private readonly EventPipeSession _session;
    private readonly EventPipeEventSource _source;
    private readonly Thread _reader;
    private readonly AppEventDecoder _decoder;
    private readonly RequestSpanDecoder? _spans;

    public DotnetProcess Process { get; }
    public string? Error { get; private set; }
    public bool Ended { get; private set; }

    private AppSession(DotnetProcess process, EventPipeSession session, AppEventDecoder decoder, RequestSpanDecoder? spans)
    {
        Process = process;
        _session = session;
        _decoder = decoder;
        _spans = spans;
        _source = new EventPipeEventSource(session.EventStream);
        _source.Dynamic.All += OnDynamic;
        _source.Clr.ThreadPoolWorkerThreadAdjustmentAdjustment += OnAdjustment;
        _source.Clr.GCSuspendEEStart += OnSuspend;
        _source.Clr.GCRestartEEStop += OnRestart;
        _reader = new Thread(Read) { IsBackground = true, Name = $"tcpq eventpipe {process.Pid}" };
        _reader.Start();
    }

    /// <summary>Connects to the process's diagnostics socket and starts the session: with
    /// per-event filters, or (a runtime older than .NET 10, which does not know them) without;
    /// <see cref="Filtered"/> says which. With <paramref name="spans"/>, each request's span ids too.</summary>
    public static AppSession Start(DotnetProcess process, AppEventDecoder decoder, AppDepth depth, RequestSpanDecoder? spans = null)
    {
        // The client finds the socket by the pid in Path.GetTempPath() (TMPDIR): point it at the
        // target's own /tmp through /proc/PID/root, by the pid the target knows itself by.
        string dir = Path.GetDirectoryName(process.SocketPath!)!;
        EventPipeSession session;
        bool filtered = true;
        lock (TmpDirLock)
        {
            string? before = Environment.GetEnvironmentVariable("TMPDIR");
            Environment.SetEnvironmentVariable("TMPDIR", dir + "/");
            try
            {
                var client = new DiagnosticsClient(process.NsPid);
                try
                {
                    session = client.StartEventPipeSession(new EventPipeSessionConfiguration(
                        Providers(depth, requestSpans: spans is not null), circularBufferSizeMB: 16, requestRundown: false, requestStackwalk: false));
                }
                catch (DiagnosticsClientException) // an older runtime: UnsupportedCommandException (no CollectTracing5 before .NET 10); anything else fails again below
                {
                    filtered = false;
                    session = client.StartEventPipeSession(Providers(depth, filtered: false, requestSpans: spans is not null), requestRundown: false, circularBufferMB: 16);
                }
            }
            finally { Environment.SetEnvironmentVariable("TMPDIR", before); }
        }
        return new AppSession(process, session, decoder, spans) { Filtered = filtered };
    }

    /// <summary>False when the runtime took only the older, unfiltered session (see <see cref="Providers"/>).</summary>
    public bool Filtered { get; private init; }

    private void Read()
    {
        try { _source.Process(); }
        catch (Exception e) { Error = e.Message; }
        finally { Ended = true; }
    }

    private static ulong Ts(TraceEvent e) =>
#pragma warning disable CS0618 // "discouraged", not obsolete: the raw counter is the kernel's clock on Linux, which is the point
        (ulong)e.TimeStampQPC;
#pragma warning restore CS0618

    private void OnDynamic(TraceEvent e)
    {
        switch (e.ProviderName)
        {
            case KestrelProvider:
                OnKestrel(e);
                break;
            case MetricsProvider when e.EventName == "CounterRateValuePublished":
                if (e.PayloadByName("meterName") is KestrelMeter && e.PayloadByName("instrumentName") is RejectedConnections
                    && e.PayloadByName("rate") is string rate && double.TryParse(rate, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double refused) && refused >= 1)
                    _decoder.Rejections(Ts(e), (uint)Math.Min(uint.MaxValue, Math.Round(refused)));
                break;
            case RequestSpanDecoder.Provider when e.EventName == "Event" && _spans is not null:
                _spans.Decode(Ts(e), e.PayloadByName("SourceName") as string, e.PayloadByName("EventName") as string, Arguments(e.PayloadByName("Arguments")));
                break;
            case CountersProvider when e.EventName == "EventCounters":
                if (e.PayloadValue(0) is IDictionary<string, object> outer && outer.TryGetValue("Payload", out var p) && p is IDictionary<string, object> payload
                    && payload.TryGetValue("Name", out var name) && name is string n && payload.TryGetValue("Mean", out var mean) && mean is double m)
                    _decoder.Counter(Ts(e), n, m);
                break;
        }
    }

    /// <summary>The bridge's arguments, a list of {Key, Value} structs as TraceEvent parses them.</summary>
    private static IEnumerable<KeyValuePair<string, string?>> Arguments(object? payload)
    {
        if (payload is not System.Collections.IEnumerable items) yield break;
        foreach (var item in items)
            if (item is IDictionary<string, object> kv && kv.TryGetValue("Key", out var k) && k is string key)
                yield return new(key, kv.TryGetValue("Value", out var v) ? v as string : null);
    }

    private void OnKestrel(TraceEvent e)
    {
        string? S(string field) => e.PayloadByName(field) as string;
        switch (e.EventName)
        {
            case "Connection/Start" when S("connectionId") is string id:
                _decoder.ConnectionStart(Ts(e), id, S("localEndPoint"), S("remoteEndPoint"));
                break;
            case "Connection/Stop" when S("connectionId") is string id:
                _decoder.ConnectionStop(Ts(e), id);
                break;
            case "Request/Start" when S("requestId") is string rid:
                _decoder.RequestStart(Ts(e), rid);
                break;
            case "Request/Stop" when S("connectionId") is string id && S("requestId") is string rid:
                _decoder.RequestStop(Ts(e), id, rid);
                break;
            case "ConnectionRejected" when S("connectionId") is string id:
                _decoder.ConnectionRejected(Ts(e), id);
                break;
        }
    }

    private void OnAdjustment(ThreadPoolWorkerThreadAdjustmentTraceData e) =>
        _decoder.ThreadPoolAdjustment(Ts(e), (int)e.Reason, (uint)Math.Max(0, e.NewWorkerThreadCount));

    private void OnSuspend(GCSuspendEETraceData e) => _decoder.GcSuspendStart(Ts(e), (uint)e.Count);

    private void OnRestart(GCNoUserDataTraceData e) => _decoder.GcRestartStop(Ts(e));

    /// <summary>Stops the session (the runtime flushes what it holds) and waits a little for the reader.</summary>
    public void Dispose()
    {
        try { _session.Stop(); }
        catch (Exception e) when (e is IOException or DiagnosticsClientException or TimeoutException or ObjectDisposedException) { } // the process may be gone
        _reader.Join(TimeSpan.FromSeconds(3));
        _session.Dispose();
    }
}

/// <summary>How far into the application a session goes: what the runtime pays for (see <see cref="AppSession.Providers"/>).</summary>
public enum AppDepth
{
    /// <summary>The thread pool, GC pauses and Kestrel's refusals: cheap, the default.</summary>
    Process,
    /// <summary>Also Kestrel's connection start/stop: app-conn and app-close rows.</summary>
    Connections,
    /// <summary>Also its request start/stop: app-request rows.</summary>
    Requests,
}

