using System.Buffers;
using System.Buffers.Text;
using Tcpq.Events;

namespace Tcpq.Spans;

/// <summary>
/// Connections as one OTLP <c>ExportTraceServiceRequest</c> (opentelemetry-proto's
/// collector/trace/v1, trace/v1, common/v1, resource/v1), written straight from each
/// <see cref="ConnectionSpan"/> into a buffer kept from request to request: no activity, no object
/// per span. The resource (service tcpq, its version and instance, the host) and the scope are
/// written once, when the encoder is made; each connection adds its spans behind them, and
/// <see cref="Request"/> puts the two enclosing messages' headers in front.
/// </summary>
/// <remarks>
/// What a connection becomes: the root span (kind server, "connection :PORT") from its first
/// sign of life to its last, with OpenTelemetry's attributes (server.*, client.*, network.*,
/// process.*, the container and pod), then tcpq's; a child span (kind internal) for each wait
/// both of whose ends were seen, in order (handshake, accept-queue wait, accept to first read,
/// first read to first write); drops, retries, cookies and aborts as the root's events; an abort
/// as its error status; the application's request spans as its links. Times are the kernel's,
/// turned into Unix ns by the <see cref="WallClock"/>. Ids come from a non-cryptographic
/// generator (xoshiro, <see cref="Random"/>): trace ids need to be unique, not secret. Runs on
/// one thread.
/// </remarks>
internal sealed class OtlpTraceEncoder
{
    public const string Handshake = "handshake";
    public const string AcceptQueueWait = "accept-queue wait";
    public const string AcceptToFirstRead = "accept to first read";
    public const string FirstReadToFirstWrite = "first read to first write";

    /// <summary>Room kept before the request for a gRPC message's 5-byte prefix.</summary>
    public const int FramePrefix = 5;

    // Span's field numbers (trace.proto)
    private const int TraceIdField = 1, SpanIdField = 2, ParentSpanIdField = 4, NameField = 5, KindField = 6,
        StartField = 7, EndField = 8, AttributesField = 9, EventsField = 11, LinksField = 13, StatusField = 15, FlagsField = 16;
    private const int KindInternal = 1, KindServer = 2, StatusError = 2;
    /// <summary>W3C flags "sampled", with SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK set and IS_REMOTE not:
    /// the parent is known to be local (or there is none).</summary>
    private const uint Flags = 0x101;

    private readonly WallClock _clock;
    private readonly byte[] _resource, _scope;
    private readonly int _spansAt;
    private readonly ProtobufWriter _w;
    private readonly Random _ids = new();
    private readonly Dictionary<Workload, byte[]> _workloads = new(ReferenceEqualityComparer.Instance);

    public OtlpTraceEncoder(WallClock clock, string serviceName, string version, string instanceId, string hostName, int capacity = 1 << 20)
    {
        _clock = clock;
        var side = new ProtobufWriter(256, 0);
        int resource = side.Begin(1);
        StringAttribute(side, 1, "service.name"u8, serviceName);
        StringAttribute(side, 1, "service.version"u8, version);
        StringAttribute(side, 1, "service.instance.id"u8, instanceId);
        StringAttribute(side, 1, "host.name"u8, hostName);
        StringAttribute(side, 1, "telemetry.sdk.name"u8, serviceName);
        StringAttribute(side, 1, "telemetry.sdk.language"u8, "dotnet");
        StringAttribute(side, 1, "telemetry.sdk.version"u8, version);
        side.End(resource);
        _resource = side.Buffer.AsSpan(0, side.Position).ToArray();
        side.Reset(0);
        int scope = side.Begin(1);
        side.StringField(1, serviceName);
        side.StringField(2, version);
        side.End(scope);
        _scope = side.Buffer.AsSpan(0, side.Position).ToArray();
        // the longest prefix: the frame, ResourceSpans' tag and length, the resource, ScopeSpans' tag and length, the scope
        _spansAt = FramePrefix + 1 + 5 + _resource.Length + 1 + 5 + _scope.Length;
        _w = new ProtobufWriter(capacity, _spansAt);
    }

    /// <summary>Connections and spans in the request being written.</summary>
    public int Connections { get; private set; }
    public int Spans { get; private set; }
    /// <summary>The request's size so far, in bytes.</summary>
    public int Bytes => _w.Position - _spansAt;

    /// <summary>Adds <paramref name="span"/>'s spans to the request; how many (1 to 5).</summary>
    public int Add(ConnectionSpan span)
    {
        Span<byte> traceId = stackalloc byte[16], rootId = stackalloc byte[8];
        if (span.TraceId != default) span.TraceId.CopyTo(traceId);
        else NewId(traceId);
        NewId(rootId);
        ulong start = StartNs(span), end = EndNs(span);
        int made = 1;
        int root = _w.Begin(2, reserve: 2); // ScopeSpans.spans
        Ids(traceId, rootId, default);
        Span<byte> name = stackalloc byte[24];
        "connection :"u8.CopyTo(name);
        Utf8Formatter.TryFormat(span.Key.DestPort, name[12..], out int digits);
        _w.BytesField(NameField, name[..(12 + digits)]);
        Times(KindServer, start, end);
        RootAttributes(span);
        foreach (var e in span.Events) Event(e);
        foreach (var r in span.AppRequests) Link(r);
        if (span.Aborted)
        {
            int status = _w.Begin(StatusField);
            _w.StringField(2, span.AbortReason ?? "aborted");
            _w.VarintField(3, StatusError);
            _w.End(status);
        }
        _w.Fixed32Field(FlagsField, Flags);
        _w.End(root);
        made += Child(traceId, rootId, Handshake, span.FirstSynNs, span.EstablishedNs);
        made += Child(traceId, rootId, AcceptQueueWait, span.EstablishedNs, span.AcceptNs);
        made += Child(traceId, rootId, AcceptToFirstRead, span.AcceptNs, span.FirstReadNs);
        made += Child(traceId, rootId, FirstReadToFirstWrite, span.FirstReadNs, span.FirstWriteNs);
        Connections++;
        Spans += made;
        return made;
    }

    /// <summary>The request: ExportTraceServiceRequest { ResourceSpans { resource, ScopeSpans { scope,
    /// spans } } }, with at least <see cref="FramePrefix"/> bytes free before it in the array.</summary>
    public ArraySegment<byte> Request()
    {
        int spans = _w.Position - _spansAt;
        int scopeSpans = _scope.Length + spans;
        int resourceSpans = _resource.Length + 1 + ProtobufWriter.VarintSize((ulong)scopeSpans) + scopeSpans;
        Span<byte> head = stackalloc byte[12];
        int n = 0;
        head[n++] = 1 << 3 | 2; // ExportTraceServiceRequest.resource_spans
        n += ProtobufWriter.WriteVarint(head[n..], (ulong)resourceSpans);
        int start = _spansAt - n - _resource.Length - 1 - ProtobufWriter.VarintSize((ulong)scopeSpans) - _scope.Length;
        var b = _w.Buffer.AsSpan();
        int at = start;
        head[..n].CopyTo(b[at..]);
        at += n;
        _resource.CopyTo(b[at..]);
        at += _resource.Length;
        b[at++] = 2 << 3 | 2; // ResourceSpans.scope_spans
        at += ProtobufWriter.WriteVarint(b[at..], (ulong)scopeSpans);
        _scope.CopyTo(b[at..]);
        return new ArraySegment<byte>(_w.Buffer, start, _w.Position - start);
    }

    /// <summary>Starts the next request.</summary>
    public void Clear()
    {
        _w.Reset(_spansAt);
        Connections = Spans = 0;
    }

    private int Child(ReadOnlySpan<byte> traceId, ReadOnlySpan<byte> parent, string name, ulong fromNs, ulong toNs)
    {
        if (fromNs == 0 || toNs == 0 || toNs < fromNs) return 0;
        Span<byte> id = stackalloc byte[8];
        NewId(id);
        int child = _w.Begin(2, reserve: 1);
        Ids(traceId, id, parent);
        _w.StringField(NameField, name);
        Times(KindInternal, fromNs, toNs);
        _w.Fixed32Field(FlagsField, Flags);
        _w.End(child);
        return 1;
    }

    private void Ids(ReadOnlySpan<byte> traceId, ReadOnlySpan<byte> spanId, ReadOnlySpan<byte> parent)
    {
        _w.BytesField(TraceIdField, traceId);
        _w.BytesField(SpanIdField, spanId);
        if (!parent.IsEmpty) _w.BytesField(ParentSpanIdField, parent);
    }

    private void Times(int kind, ulong startNs, ulong endNs)
    {
        _w.VarintField(KindField, (ulong)kind);
        _w.Fixed64Field(StartField, _clock.ToUnixNs(startNs));
        _w.Fixed64Field(EndField, _clock.ToUnixNs(endNs));
    }

    /// <summary>OpenTelemetry's semantic conventions for the connection (server.*, client.*,
    /// network.*, process.*), the container and pod it ran in, then tcpq's own.</summary>
    private void RootAttributes(ConnectionSpan s)
    {
        var k = s.Key;
        AddressAttribute("server.address"u8, k.Dest);
        IntAttribute(_w, AttributesField, "server.port"u8, k.DestPort);
        AddressAttribute("client.address"u8, k.Source);
        IntAttribute(_w, AttributesField, "client.port"u8, k.SourcePort);
        BytesAttribute("network.type"u8, k.Dest.IsV4Mapped ? "ipv4"u8 : "ipv6"u8);
        BytesAttribute("network.transport"u8, "tcp"u8);
        if (s.Pid != 0) IntAttribute(_w, AttributesField, "process.pid"u8, s.Pid);
        if (s.Comm is { Length: > 0 } comm) StringAttribute(_w, AttributesField, "process.executable.name"u8, comm);
        if (s.Workload is { } w) _w.Raw(WorkloadAttributes(w));
        IntAttribute(_w, AttributesField, "tcpq.netns"u8, k.NetNs);
        if (s.Attempts != 0) IntAttribute(_w, AttributesField, "tcpq.syn.attempts"u8, s.Attempts);
        if (s.Aborted) StringAttribute(_w, AttributesField, "error.type"u8, s.AbortReason ?? "aborted");
        if (s.Unfinished is { } u) StringAttribute(_w, AttributesField, "tcpq.unfinished"u8, u);
        if (s.EventsLeftOut != 0) IntAttribute(_w, AttributesField, "tcpq.events.left_out"u8, s.EventsLeftOut);
    }

    private void Event(in ConnectionSpanEvent e)
    {
        int ev = _w.Begin(EventsField);
        _w.Fixed64Field(1, _clock.ToUnixNs(e.AtNs));
        _w.StringField(2, e.Name);
        if (e.Reason is not null) StringAttribute(_w, 3, "tcpq.reason"u8, e.Reason);
        if (e.Attempt != 0) IntAttribute(_w, 3, "tcpq.attempt"u8, e.Attempt);
        _w.End(ev);
    }

    /// <summary>A request span of the application; one whose ids do not parse (not 32 and 16 hex
    /// digits, or all zeros) is left out rather than sent wrong.</summary>
    private void Link(in AppRequestLink r)
    {
        Span<byte> trace = stackalloc byte[16], span = stackalloc byte[8];
        if (!Hex(r.TraceId, trace) || !Hex(r.SpanId, span)) return;
        int link = _w.Begin(LinksField);
        _w.BytesField(1, trace);
        _w.BytesField(2, span);
        _w.Fixed32Field(6, Flags);
        _w.End(link);
    }

    private static bool Hex(string? text, Span<byte> into) =>
        text is not null && text.Length == into.Length * 2 &&
        Convert.FromHexString(text, into, out _, out _) == OperationStatus.Done && into.IndexOfAnyExcept((byte)0) >= 0;

    /// <summary>A workload's attributes, written once per workload (the resolver hands out one
    /// object per container) and copied after; bounded, cleared when full.</summary>
    private byte[] WorkloadAttributes(Workload w)
    {
        if (_workloads.TryGetValue(w, out var bytes)) return bytes;
        if (_workloads.Count >= 1024) _workloads.Clear();
        var side = new ProtobufWriter(256, 0);
        foreach (var (otel, _, value) in w.Attributes()) StringAttribute(side, AttributesField, System.Text.Encoding.UTF8.GetBytes(otel), value);
        return _workloads[w] = side.Buffer.AsSpan(0, side.Position).ToArray();
    }

    private void AddressAttribute(ReadOnlySpan<byte> key, Address16 address)
    {
        Span<byte> text = stackalloc byte[AddressText.MaxLength];
        int n = AddressText.Format(address, text);
        BytesAttribute(key, text[..n]);
    }

    /// <summary>KeyValue { key, AnyValue { string_value } } with the value already UTF-8.</summary>
    private void BytesAttribute(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        int kv = _w.Begin(AttributesField);
        _w.BytesField(1, key);
        int any = _w.Begin(2);
        _w.BytesField(1, value);
        _w.End(any);
        _w.End(kv);
    }

    private static void StringAttribute(ProtobufWriter w, int field, ReadOnlySpan<byte> key, string value)
    {
        int kv = w.Begin(field);
        w.BytesField(1, key);
        int any = w.Begin(2);
        w.StringField(1, value);
        w.End(any);
        w.End(kv);
    }

    /// <summary>KeyValue { key, AnyValue { int_value } }.</summary>
    private static void IntAttribute(ProtobufWriter w, int field, ReadOnlySpan<byte> key, long value)
    {
        int kv = w.Begin(field);
        w.BytesField(1, key);
        int any = w.Begin(2);
        w.VarintField(3, (ulong)value);
        w.End(any);
        w.End(kv);
    }

    private void NewId(Span<byte> id)
    {
        do _ids.NextBytes(id);
        while (id.IndexOfAnyExcept((byte)0) < 0);
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
}
