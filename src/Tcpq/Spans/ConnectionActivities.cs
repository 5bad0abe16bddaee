using System.Diagnostics;
using Tcpq.Events;

namespace Tcpq.Spans;

/// <summary>
/// One <see cref="ConnectionSpan"/> as OpenTelemetry .NET's activities: the connection is the root
/// span (kind server), with a child span for each wait that both of its ends were seen for
/// (handshake, accept-queue wait, accept to first read, first read to first write). Drops,
/// retries, cookies and aborts are the root's events; an abort is its error status. Times are the
/// kernel's, turned into wall time by <see cref="WallClock"/>: activities are started and stopped
/// after the fact, at the times they happened, not when tcpq learnt of them.
/// </summary>
public static class ConnectionActivities
{
    public const string Handshake = "handshake";
    public const string AcceptQueueWait = "accept-queue wait";
    public const string AcceptToFirstRead = "accept to first read";
    public const string FirstReadToFirstWrite = "first read to first write";

    /// <summary>The root span's trace id when the source chose one (<see cref="ConnectionSpan.TraceId"/>):
    /// the runtime asks <see cref="Activity.TraceIdGenerator"/> for a root's trace id, and this
    /// thread's answer is the chosen one while the root starts.</summary>
    [ThreadStatic] private static ActivityTraceId t_chosen;
    /// <summary>Addresses as text, per thread: a server's own address and its busy clients come
    /// back connection after connection, and each text would be a new string. Bounded: cleared when full.</summary>
    [ThreadStatic] private static Dictionary<Address16, string>? t_addresses;
    /// <summary>The root spans' names ("connection :80"), per thread and port, for the same reason.</summary>
    [ThreadStatic] private static Dictionary<ushort, string>? t_rootNames;
    private const int AddressesKept = 1024;
    private static readonly object s_install = new();
    private static bool s_installed;

    /// <summary>The activities of <paramref name="span"/> on <paramref name="source"/>, ended; the
    /// number of spans made (0 when no listener of the source samples them).</summary>
    public static int Emit(ActivitySource source, ConnectionSpan span, WallClock clock)
    {
        if (!source.HasListeners()) return 0;
        InstallTraceIdChoice();
        ulong startNs = StartNs(span), endNs = EndNs(span);
        var start = clock.ToUtc(startNs);
        Activity? root;
        t_chosen = span.TraceId;
        try
        {
            root = source.StartActivity(RootName(span.Key.DestPort), ActivityKind.Server, default(ActivityContext),
                RootTags(span), Links(span), start);
        }
        finally
        {
            t_chosen = default;
        }
        if (root is null) return 0;
        int made = 1;
        var parent = root.Context;
        made += Child(source, parent, Handshake, span.FirstSynNs, span.EstablishedNs, clock);
        made += Child(source, parent, AcceptQueueWait, span.EstablishedNs, span.AcceptNs, clock);
        made += Child(source, parent, AcceptToFirstRead, span.AcceptNs, span.FirstReadNs, clock);
        made += Child(source, parent, FirstReadToFirstWrite, span.FirstReadNs, span.FirstWriteNs, clock);
        foreach (var e in span.Events)
        {
            ActivityTagsCollection? tags = null;
            if (e.Reason is not null) (tags ??= [])["tcpq.reason"] = e.Reason;
            if (e.Attempt != 0) (tags ??= [])["tcpq.attempt"] = (long)e.Attempt;
            root.AddEvent(new ActivityEvent(e.Name, clock.ToUtc(e.AtNs), tags));
        }
        if (span.Aborted) root.SetStatus(ActivityStatusCode.Error, span.AbortReason ?? "aborted");
        Stop(root, start, clock.ToUtc(endNs));
        return made;
    }

    /// <summary>A child from <paramref name="fromNs"/> to <paramref name="toNs"/>, when both were
    /// seen and in order: 1, else 0.</summary>
    private static int Child(ActivitySource source, ActivityContext parent, string name, ulong fromNs, ulong toNs, WallClock clock)
    {
        if (fromNs == 0 || toNs == 0 || toNs < fromNs) return 0;
        var start = clock.ToUtc(fromNs);
        var child = source.StartActivity(name, ActivityKind.Internal, parent, startTime: start);
        if (child is null) return 0;
        Stop(child, start, clock.ToUtc(toNs));
        return 1;
    }

    /// <summary>Activity.Stop takes "now" for an activity whose duration is zero: a span shorter
    /// than a tick (100 ns) is given one.</summary>
    private static void Stop(Activity a, DateTime start, DateTime end)
    {
        a.SetEndTime(end > start ? end : start.AddTicks(1));
        a.Stop();
    }

    private static ulong StartNs(ConnectionSpan s)
    {
        ulong first = ulong.MaxValue;
        foreach (ulong ns in (ReadOnlySpan<ulong>)[s.FirstSynNs, s.EstablishedNs, s.AcceptNs, s.FirstReadNs, s.FirstWriteNs, s.EndNs])
            if (ns != 0 && ns < first) first = ns;
        foreach (var e in s.Events)
            if (e.AtNs != 0 && e.AtNs < first) first = e.AtNs;
        return first == ulong.MaxValue ? 0 : first;
    }

    private static ulong EndNs(ConnectionSpan s)
    {
        ulong last = 0;
        foreach (ulong ns in (ReadOnlySpan<ulong>)[s.FirstSynNs, s.EstablishedNs, s.AcceptNs, s.FirstReadNs, s.FirstWriteNs, s.EndNs])
            last = Math.Max(last, ns);
        foreach (var e in s.Events) last = Math.Max(last, e.AtNs);
        return last;
    }

    /// <summary>OpenTelemetry's semantic conventions for the connection (server.*, client.*,
    /// network.*, process.*), the container and pod it ran in, then tcpq's own.</summary>
    internal static List<KeyValuePair<string, object?>> RootTags(ConnectionSpan s)
    {
        var k = s.Key;
        var tags = new List<KeyValuePair<string, object?>>(16)
        {
            new("server.address", Text(k.Dest)),
            new("server.port", (long)k.DestPort),
            new("client.address", Text(k.Source)),
            new("client.port", (long)k.SourcePort),
            new("network.type", k.Dest.IsV4Mapped ? "ipv4" : "ipv6"),
            new("network.transport", "tcp"),
        };
        if (s.Pid != 0) tags.Add(new("process.pid", (long)s.Pid));
        if (s.Comm is { Length: > 0 } comm) tags.Add(new("process.executable.name", comm));
        if (s.Workload is { } w)
            foreach (var (otel, _, value) in w.Attributes()) tags.Add(new(otel, value));
        tags.Add(new("tcpq.netns", (long)k.NetNs));
        if (s.Attempts != 0) tags.Add(new("tcpq.syn.attempts", (long)s.Attempts));
        if (s.Aborted) tags.Add(new("error.type", s.AbortReason ?? "aborted"));
        if (s.Unfinished is { } u) tags.Add(new("tcpq.unfinished", u));
        if (s.EventsLeftOut != 0) tags.Add(new("tcpq.events.left_out", (long)s.EventsLeftOut));
        return tags;
    }

    private static string RootName(ushort port)
    {
        var kept = t_rootNames ??= [];
        if (kept.TryGetValue(port, out var name)) return name;
        if (kept.Count >= AddressesKept) kept.Clear();
        return kept[port] = $"connection :{port}";
    }

    private static string Text(Address16 a)
    {
        var kept = t_addresses ??= new Dictionary<Address16, string>(AddressesKept);
        if (kept.TryGetValue(a, out var text)) return text;
        if (kept.Count >= AddressesKept) kept.Clear();
        return kept[a] = a.ToString();
    }

    /// <summary>The application's request spans that came on the connection; a link whose ids do
    /// not parse (not 32 and 16 hex digits) is left out rather than sent wrong.</summary>
    internal static List<ActivityLink>? Links(ConnectionSpan s)
    {
        if (s.AppRequests.Count == 0) return null;
        var links = new List<ActivityLink>(s.AppRequests.Count);
        foreach (var r in s.AppRequests)
            if (IsHex(r.TraceId, 32) && IsHex(r.SpanId, 16) && !IsZero(r.TraceId) && !IsZero(r.SpanId))
                links.Add(new ActivityLink(new ActivityContext(
                    ActivityTraceId.CreateFromString(r.TraceId.ToLowerInvariant()), ActivitySpanId.CreateFromString(r.SpanId.ToLowerInvariant()), ActivityTraceFlags.Recorded)));
        return links;
    }

    private static bool IsHex(string? s, int length)
    {
        if (s is null || s.Length != length) return false;
        foreach (char c in s)
            if (!char.IsAsciiHexDigit(c)) return false;
        return true;
    }

    private static bool IsZero(string s) => s.AsSpan().IndexOfAnyExcept('0') < 0;

    private static void InstallTraceIdChoice()
    {
        if (Volatile.Read(ref s_installed)) return;
        lock (s_install)
        {
            if (s_installed) return;
            var previous = Activity.TraceIdGenerator;
            Activity.TraceIdGenerator = () => t_chosen != default ? t_chosen : previous?.Invoke() ?? ActivityTraceId.CreateRandom();
            Volatile.Write(ref s_installed, true);
        }
    }
}
