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

    private static readonly byte[] HandshakeName = NameField_(Handshake), AcceptQueueWaitName = NameField_(AcceptQueueWait),
        AcceptToFirstReadName = NameField_(AcceptToFirstRead), FirstReadToFirstWriteName = NameField_(FirstReadToFirstWrite);
    // attribute keys as KeyValue's first field (tag, length, text), written once
    private static readonly byte[] ServerAddress = Key("server.address"), ServerPort = Key("server.port"),
        ClientAddress = Key("client.address"), ClientPort = Key("client.port"), NetworkType = Key("network.type"),
        NetworkTransport = Key("network.transport"), ProcessPid = Key("process.pid"), ProcessName = Key("process.executable.name"),
        NetNs = Key("tcpq.netns"), SynAttempts = Key("tcpq.syn.attempts"), ErrorType = Key("error.type"),
        Unfinished = Key("tcpq.unfinished"), EventsLeftOut = Key("tcpq.events.left_out"), Reason = Key("tcpq.reason"), Attempt = Key("tcpq.attempt");

    private static byte[] NameField_(string name) => [NameField << 3 | 2, (byte)name.Length, .. System.Text.Encoding.ASCII.GetBytes(name)];
    private static byte[] Key(string key) => [1 << 3 | 2, (byte)key.Length, .. System.Text.Encoding.ASCII.GetBytes(key)];

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
        // every id the connection may need, drawn at once: the trace's, the root's, four children's
        Span<byte> ids = stackalloc byte[16 + 5 * 8];
        _ids.NextBytes(ids);
        Span<byte> traceId = ids[..16], rootId = ids[16..24];
        if (span.TraceId != default) span.TraceId.CopyTo(traceId);
        else NonZero(traceId);
        NonZero(rootId);
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
        made += Child(traceId, rootId, ids[24..32], HandshakeName, span.FirstSynNs, span.EstablishedNs);
        made += Child(traceId, rootId, ids[32..40], AcceptQueueWaitName, span.EstablishedNs, span.AcceptNs);
        made += Child(traceId, rootId, ids[40..48], AcceptToFirstReadName, span.AcceptNs, span.FirstReadNs);
        made += Child(traceId, rootId, ids[48..56], FirstReadToFirstWriteName, span.FirstReadNs, span.FirstWriteNs);
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

    /// <param name="nameField">The name as a whole field (tag, length, text), written once.</param>
    private int Child(ReadOnlySpan<byte> traceId, ReadOnlySpan<byte> parent, Span<byte> id, byte[] nameField, ulong fromNs, ulong toNs)
    {
        if (fromNs == 0 || toNs == 0 || toNs < fromNs) return 0;
        NonZero(id);
        int child = _w.Begin(2, reserve: 1);
        Ids(traceId, id, parent);
        _w.Raw(nameField);
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
        const byte tag = AttributesField << 3 | 2;
        AddressAttribute(ServerAddress, k.Dest);
        Int(tag, ServerPort, k.DestPort);
        AddressAttribute(ClientAddress, k.Source);
        Int(tag, ClientPort, k.SourcePort);
        Text(tag, NetworkType, k.Dest.IsV4Mapped ? "ipv4"u8 : "ipv6"u8);
        Text(tag, NetworkTransport, "tcp"u8);
        if (s.Pid != 0) Int(tag, ProcessPid, s.Pid);
        if (s.Comm is { Length: > 0 } comm) Text(tag, ProcessName, comm);
        if (s.Workload is { } w) _w.Raw(WorkloadAttributes(w));
        Int(tag, NetNs, k.NetNs);
        if (s.Attempts != 0) Int(tag, SynAttempts, s.Attempts);
        if (s.Aborted) Text(tag, ErrorType, s.AbortReason ?? "aborted");
        if (s.Unfinished is { } u) Text(tag, Unfinished, u);
        if (s.EventsLeftOut != 0) Int(tag, EventsLeftOut, s.EventsLeftOut);
    }

    private void Event(in ConnectionSpanEvent e)
    {
        int ev = _w.Begin(EventsField);
        _w.Fixed64Field(1, _clock.ToUnixNs(e.AtNs));
        _w.StringField(2, e.Name);
        if (e.Reason is not null) Text(3 << 3 | 2, Reason, e.Reason);
        if (e.Attempt != 0) Int(3 << 3 | 2, Attempt, e.Attempt);
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

    private void AddressAttribute(byte[] key, Address16 address)
    {
        Span<byte> text = stackalloc byte[AddressText.MaxLength];
        int n = AddressText.Format(address, text);
        Text(AttributesField << 3 | 2, key, text[..n]);
    }

    /// <summary>KeyValue { key, AnyValue { string_value } }, its lengths worked out before it is
    /// written (each one byte: a key of at most 24 bytes, a value of at most 96), in one go.</summary>
    /// <param name="tag">The KeyValue's own tag (its field in the message that holds it).</param>
    /// <param name="key">The key as a field (<see cref="Key"/>).</param>
    private void Text(byte tag, byte[] key, ReadOnlySpan<byte> value)
    {
        int any = 2 + value.Length, kv = key.Length + 2 + any;
        var d = _w.Free(2 + kv);
        d[0] = tag;
        d[1] = (byte)kv;
        key.CopyTo(d[2..]);
        int at = 2 + key.Length;
        d[at] = 2 << 3 | 2; // KeyValue.value
        d[at + 1] = (byte)any;
        d[at + 2] = 1 << 3 | 2; // AnyValue.string_value
        d[at + 3] = (byte)value.Length;
        value.CopyTo(d[(at + 4)..]);
        _w.Advance(2 + kv);
    }

    private void Text(byte tag, byte[] key, string value)
    {
        if (value.Length <= 32) // at most 96 bytes of UTF-8
        {
            Span<byte> utf8 = stackalloc byte[96];
            Text(tag, key, utf8[..System.Text.Encoding.UTF8.GetBytes(value, utf8)]);
            return;
        }
        int kv = _w.Begin(tag >> 3);
        _w.Raw(key);
        int anyValue = _w.Begin(2, reserve: 2);
        _w.StringField(1, value);
        _w.End(anyValue);
        _w.End(kv);
    }

    /// <summary>KeyValue { key, AnyValue { int_value } }, in one go.</summary>
    private void Int(byte tag, byte[] key, long value)
    {
        int size = ProtobufWriter.VarintSize((ulong)value);
        int any = 1 + size, kv = key.Length + 2 + any;
        var d = _w.Free(2 + kv);
        d[0] = tag;
        d[1] = (byte)kv;
        key.CopyTo(d[2..]);
        int at = 2 + key.Length;
        d[at] = 2 << 3 | 2;
        d[at + 1] = (byte)any;
        d[at + 2] = 3 << 3; // AnyValue.int_value, a varint
        ProtobufWriter.WriteVarint(d[(at + 3)..], (ulong)value);
        _w.Advance(2 + kv);
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

    /// <summary>An id of all zeros is invalid: drawn again (once in 2^64 or 2^128).</summary>
    private void NonZero(Span<byte> id)
    {
        while (id.IndexOfAnyExcept((byte)0) < 0) _ids.NextBytes(id);
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
