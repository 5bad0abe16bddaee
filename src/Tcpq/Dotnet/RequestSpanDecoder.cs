using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Diagnostics.NETCore.Client;
using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Dotnet;

/// <summary>
/// Each request's span ids and its connection, from ASP.NET Core's own
/// <c>Microsoft.AspNetCore.Hosting.HttpRequestIn</c> activity, through the DiagnosticSource
/// bridge (the <c>Microsoft-Diagnostics-DiagnosticSource</c> EventSource) and not through an
/// ActivitySource listener (<c>[AS]</c> in the same provider): an ActivitySource listener takes
/// part in sampling (its sampler votes for every activity the source creates), so it could make
/// the app record and export what it would not have; a DiagnosticListener subscription only sees
/// the activity that the app's own tracing (OpenTelemetry) already made, and makes none: the bridge
/// enables the event <c>HttpRequestIn.Start</c> alone, and ASP.NET Core creates an activity for a
/// DiagnosticListener only when <c>HttpRequestIn</c> itself is enabled.
/// </summary>
/// <remarks>
/// The bridge reads, in the app and at the activity's start, the properties named in
/// <see cref="PayloadSpec"/>: <c>Activity.Current</c>'s TraceId and SpanId, and
/// HttpContext.Connection's addresses and ports, as the socket has them: forwarded-headers
/// middleware rewrites them only later, in the request pipeline. It fetches them by reflection,
/// which a trimmed or Native AOT app may have removed (ASP.NET Core keeps only what
/// dotnet-monitor fetches): such a request comes without its connection, and the process is said
/// once (<see cref="Unconnected"/>).
/// </remarks>
public sealed class RequestSpanDecoder(DotnetProcess process, IRequestLinkSink sink)
{
    public const string Provider = "Microsoft-Diagnostics-DiagnosticSource";
    public const string Listener = "Microsoft.AspNetCore";
    public const string StartEvent = "Microsoft.AspNetCore.Hosting.HttpRequestIn.Start";
    private const long EventsKeyword = 0x2; // DiagnosticSourceEventSource.Keywords.Events

    /// <summary>'-': none of HttpContext's own properties (the bridge would serialize them all by
    /// default), only these fetches; the output names are the fields <see cref="Decode"/> reads.
    /// Recorded: ASP.NET Core also makes an activity that no tracing sampled, for its log scopes;
    /// such a span is exported nowhere, and a link to it would lead nowhere.</summary>
    public const string PayloadSpec =
        "-TraceId=*Activity.TraceId;SpanId=*Activity.SpanId;Recorded=*Activity.Recorded;" +
        "RemoteAddress=Connection.RemoteIpAddress;RemotePort=Connection.RemotePort;" +
        "LocalAddress=Connection.LocalIpAddress;LocalPort=Connection.LocalPort";

    /// <summary>The bridge, asked for one event of one listener. The bridge's plain <c>Event</c>
    /// (no <c>@Activity1Start</c>): EventSource's own activity ids would cost the app more and tell
    /// tcpq nothing.</summary>
    public static EventPipeProvider EventPipeProvider() =>
        new(Provider, EventLevel.Verbose, EventsKeyword, new Dictionary<string, string>
        {
            ["FilterAndPayloadSpecs"] = $"{Listener}/{StartEvent}:{PayloadSpec}",
        });

    /// <summary>Requests joined, and those that came without their connection (the fetch failed) or
    /// without a recorded activity (the app does not trace this request, or its sampler left it out).</summary>
    public long Links { get; private set; }
    public long Unconnected { get; private set; }
    public long Untraced { get; private set; }

    /// <summary>Set once, by the first request that came without its connection: say so.</summary>
    public event Action<DotnetProcess>? FirstUnconnected;

    /// <summary>One <c>HttpRequestIn.Start</c>, its arguments as the bridge sent them.</summary>
    public void Decode(ulong ts, string? sourceName, string? eventName, IEnumerable<KeyValuePair<string, string?>> arguments)
    {
        if (sourceName != Listener || eventName != StartEvent) return;
        string? traceId = null, spanId = null, recorded = null, remote = null, remotePort = null, local = null, localPort = null;
        foreach (var (key, value) in arguments)
            switch (key)
            {
                case "TraceId": traceId = value; break;
                case "SpanId": spanId = value; break;
                case "Recorded": recorded = value; break;
                case "RemoteAddress": remote = value; break;
                case "RemotePort": remotePort = value; break;
                case "LocalAddress": local = value; break;
                case "LocalPort": localPort = value; break;
            }
        if (recorded != "True" || !TryTraceId(traceId, out var trace) || !TrySpanId(spanId, out var span))
        {
            Untraced++;
            return;
        }
        if (!TryAddress(remote, out var ra) || !TryPort(remotePort, out ushort rp) || !TryAddress(local, out var la) || !TryPort(localPort, out ushort lp))
        {
            if (Unconnected++ == 0) FirstUnconnected?.Invoke(process);
            return;
        }
        Links++;
        sink.OnRequestLink(new RequestLink(new ConnectionKey(process.NetNs, ra, rp, la, lp), (uint)process.Pid, ts, trace, span));
    }

    /// <summary>32 hex digits, not all zero (an activity without a W3C id has none).</summary>
    internal static bool TryTraceId(string? text, out ActivityTraceId id)
    {
        id = default;
        if (text is not { Length: 32 } || !IsHex(text) || text.All(c => c == '0')) return false;
        id = ActivityTraceId.CreateFromString(text);
        return true;
    }

    internal static bool TrySpanId(string? text, out ActivitySpanId id)
    {
        id = default;
        if (text is not { Length: 16 } || !IsHex(text) || text.All(c => c == '0')) return false;
        id = ActivitySpanId.CreateFromString(text);
        return true;
    }

    /// <summary>Lower-case hex, as W3C ids are written (CreateFromString throws on anything else).</summary>
    private static bool IsHex(string s)
    {
        foreach (char c in s)
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f')) return false;
        return true;
    }

    private static bool TryPort(string? text, out ushort port) =>
        ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port != 0;

    /// <summary>An IPv4 address, or IPv4-mapped (a dual-stack socket's), stored IPv4-mapped as the kernel side stores it.</summary>
    internal static bool TryAddress(string? text, out Address16 address)
    {
        address = default;
        if (text is null || !IPAddress.TryParse(text, out var ip)) return false;
        if (ip.AddressFamily == AddressFamily.InterNetworkV6 && ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        ip.TryWriteBytes(bytes, out int n);
        address = n == 4 ? Address16.FromV4(bytes[..4]) : Address16.FromV6(bytes);
        return true;
    }
}
