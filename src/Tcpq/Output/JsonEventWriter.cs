using System.Text.Json;
using Tcpq.Events;

namespace Tcpq.Output;

/// <summary>One JSON object per line (JSON Lines), the CSV's fields in snake_case; fields that do
/// not apply are null.</summary>
public sealed class JsonEventWriter : IEventWriter
{
    private readonly OutputBuffer _out;
    private readonly Utf8JsonWriter _json;
    private readonly EventContext _context;
    private readonly SecondText _dates = SecondText.Iso();

    public JsonEventWriter(Stream stream, EventContext context)
    {
        _out = new OutputBuffer(stream);
        _json = new Utf8JsonWriter(_out, new JsonWriterOptions { SkipValidation = true });
        _context = context;
    }

    public void WriteHeader() { }

    public void Write(in TcpqEvent e)
    {
        var j = _json;
        j.WriteStartObject();
        j.WriteNumber("ts"u8, e.TsNs);
        Span<byte> text = stackalloc byte[48];
        int n = _dates.WriteIsoMicros(_context.Clock.ToUtc(e.TsNs), text);
        j.WriteString("date"u8, text[..n]);
        j.WriteString("action"u8, EventKinds.Utf8Name(e.Kind));
        bool tuple = EventKinds.HasTuple(e); // app-pool, app-starve, app-gc, a bare app-reject: a process, no 4-tuple
        if (tuple) j.WriteString("source_ip"u8, text[..AddressText.Format(e.SourceAddress, text)]);
        else j.WriteNull("source_ip"u8);
        NumberOrNull(j, "source_port"u8, tuple, e.SourcePort);
        NumberOrNull(j, "dest_port"u8, tuple, e.DestPort);
        bool queues = e.Has(EventFlags.Queues);
        NumberOrNull(j, "q0"u8, queues, e.Q0);
        NumberOrNull(j, "q"u8, queues, e.Q);
        NumberOrNull(j, "qmax"u8, queues, e.QMax);
        if (tuple) j.WriteString("dest_ip"u8, text[..AddressText.Format(e.DestAddress, text)]);
        else j.WriteNull("dest_ip"u8);
        NumberOrNull(j, "attempt"u8, e.Has(EventFlags.Attempt), e.Attempt);
        NumberOrNull(j, "wait_us"u8, e.Has(EventFlags.Wait), e.WaitNs / 1000);
        bool task = e.Has(EventFlags.Task);
        NumberOrNull(j, "pid"u8, task, e.Pid);
        if (task) j.WriteString("comm"u8, Utf8Comm(Comm16.Trimmed(e.Comm), text));
        else j.WriteNull("comm"u8);
        var reason = _context.Reasons.Utf8Name(e.Reason, text);
        if (reason.IsEmpty) j.WriteNull("reason"u8);
        else j.WriteString("reason"u8, reason);
        bool bytes = e.Has(EventFlags.Bytes);
        NumberOrNull(j, "bytes_in"u8, bytes, e.BytesIn);
        NumberOrNull(j, "bytes_out"u8, bytes, e.BytesOut);
        NumberOrNull(j, "data_age_us"u8, e.Has(EventFlags.DataAge), e.DataAgeNs / 1000);
        if (e.Has(EventFlags.Closer))
        {
            j.WriteString("closed_by"u8, Closers.Utf8Name(e.Closer));
            j.WriteBoolean("reset"u8, e.Reset != 0);
        }
        else
        {
            j.WriteNull("closed_by"u8);
            j.WriteNull("reset"u8);
        }
        j.WriteNumber("netns"u8, e.NetNs);
        // where the listener runs, only when in a container or pod (serve's label names)
        if (tuple && _context.Workloads?.Invoke(new ListenerKey(e.NetNs, e.DestAddress, e.DestPort)) is { } w) WriteWorkload(j, w);
        j.WriteEndObject();
        j.Flush();
        j.Reset();
        _out.Write((byte)'\n');
        _out.EndRow();
    }

    private static void WriteWorkload(Utf8JsonWriter j, Workload w)
    {
        if (w.ContainerId is { } id) j.WriteString("container_id"u8, id);
        if (w.PodUid is { } uid) j.WriteString("k8s_pod_uid"u8, uid);
        if (w.ContainerName is { } name) j.WriteString("container_name"u8, name);
        if (w.PodName is { } pod) j.WriteString("k8s_pod_name"u8, pod);
        if (w.Namespace is { } ns) j.WriteString("k8s_namespace_name"u8, ns);
        if (w.K8sContainerName is { } c) j.WriteString("k8s_container_name"u8, c);
    }

    /// <summary>A comm is bytes, not always UTF-8: invalid bytes become '?' (no string per row).</summary>
    private static ReadOnlySpan<byte> Utf8Comm(ReadOnlySpan<byte> comm, Span<byte> scratch)
    {
        if (System.Text.Unicode.Utf8.IsValid(comm)) return comm;
        for (int i = 0; i < comm.Length; i++) scratch[i] = comm[i] < 0x80 ? comm[i] : (byte)'?';
        return scratch[..comm.Length];
    }

    private static void NumberOrNull(Utf8JsonWriter j, ReadOnlySpan<byte> name, bool has, ulong value)
    {
        if (has) j.WriteNumber(name, value);
        else j.WriteNull(name);
    }

    public void Flush()
    {
        _json.Flush();
        _out.Flush();
    }

    public void Dispose()
    {
        _json.Dispose();
        _out.Dispose();
    }
}
