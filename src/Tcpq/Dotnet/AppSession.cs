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

    /// <summary>Kestrel's connection and request events (Informational: the per-event Verbose
    /// ones stay off); the runtime's GC and thread-pool events at Informational (GC start/stop and
    /// the suspensions, the pool's thread adjustments; not the allocation ticks or per-item
    /// enqueue/dequeue events, which are Verbose); the System.Runtime counters once a second.</summary>
    public static IReadOnlyList<EventPipeProvider> Providers { get; } =
    [
        new(KestrelProvider, EventLevel.Informational),
        new(RuntimeProvider, EventLevel.Informational, GcKeyword | ThreadingKeyword),
        new(CountersProvider, EventLevel.Informational, -1, new Dictionary<string, string> { ["EventCounterIntervalSec"] = "1" }),
    ];

    private static readonly Lock TmpDirLock = new();

    private readonly EventPipeSession _session;
    private readonly EventPipeEventSource _source;
    private readonly Thread _reader;
    private readonly AppEventDecoder _decoder;

    public DotnetProcess Process { get; }
    public string? Error { get; private set; }
    public bool Ended { get; private set; }

    private AppSession(DotnetProcess process, EventPipeSession session, AppEventDecoder decoder)
    {
        Process = process;
        _session = session;
        _decoder = decoder;
        _source = new EventPipeEventSource(session.EventStream);
        _source.Dynamic.All += OnDynamic;
        _source.Clr.ThreadPoolWorkerThreadAdjustmentAdjustment += OnAdjustment;
        _source.Clr.GCSuspendEEStart += OnSuspend;
        _source.Clr.GCRestartEEStop += OnRestart;
        _reader = new Thread(Read) { IsBackground = true, Name = $"tcpq eventpipe {process.Pid}" };
        _reader.Start();
    }

    /// <summary>Connects to the process's diagnostics socket and starts the session.</summary>
    public static AppSession Start(DotnetProcess process, AppEventDecoder decoder)
    {
        // The client finds the socket by the pid in Path.GetTempPath() (TMPDIR): point it at the
        // target's own /tmp through /proc/PID/root, by the pid the target knows itself by.
        string dir = Path.GetDirectoryName(process.SocketPath!)!;
        EventPipeSession session;
        lock (TmpDirLock)
        {
            string? before = Environment.GetEnvironmentVariable("TMPDIR");
            Environment.SetEnvironmentVariable("TMPDIR", dir + "/");
            try
            {
                var client = new DiagnosticsClient(process.NsPid);
                session = client.StartEventPipeSession(Providers, requestRundown: false, circularBufferMB: 16);
            }
            finally { Environment.SetEnvironmentVariable("TMPDIR", before); }
        }
        return new AppSession(process, session, decoder);
    }

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
            case CountersProvider when e.EventName == "EventCounters":
                if (e.PayloadValue(0) is IDictionary<string, object> outer && outer.TryGetValue("Payload", out var p) && p is IDictionary<string, object> payload
                    && payload.TryGetValue("Name", out var name) && name is string n && payload.TryGetValue("Mean", out var mean) && mean is double m)
                    _decoder.Counter(Ts(e), n, m);
                break;
        }
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
