using System.Text.Json;
using Tcpq.Connections;

namespace Tcpq.Output;

/// <summary>The summary for machines: one JSON document, snake_case, durations in µs.
/// Its fields are listed in docs/diagnosis.md.</summary>
public static class SummaryJsonWriter
{
    public static void Write(TraceSummary s, Stream stream)
    {
        using var j = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        j.WriteStartObject();
        j.WriteString("source", s.Source);
        j.WriteNumber("events", s.Events);
        if (s.InputError is null) j.WriteNull("input_error");
        else j.WriteString("input_error", s.InputError);
        j.WriteStartArray("ports");
        foreach (var p in s.Ports) Port(j, p);
        j.WriteEndArray();
        j.WriteStartArray("findings");
        foreach (var f in s.Findings)
        {
            j.WriteStartObject();
            j.WriteString("rule", f.Rule);
            j.WriteString("severity", f.Severity.ToString().ToLowerInvariant());
            j.WriteString("port", f.Port);
            j.WriteString("text", f.Text);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        j.WriteEndObject();
        j.Flush();
        stream.Write("\n"u8);
        stream.Flush();
    }

    private static void Port(Utf8JsonWriter j, PortSummary p)
    {
        j.WriteStartObject();
        if (p.IsOther || p.Address.Length == 0) j.WriteNull("address");
        else j.WriteString("address", p.Address);
        j.WriteNumber("port", p.Port);
        j.WriteNumber("netns", p.NetNs);
        j.WriteBoolean("other_listeners", p.IsOther);
        j.WriteNumber("connections", p.Connections);
        j.WriteNumber("established", p.Established);
        j.WriteNumber("accepted", p.Accepted);
        j.WriteNumber("aborted", p.Aborted);
        j.WriteNumber("syns", p.Syns);
        j.WriteNumber("retries", p.Retries);
        j.WriteNumber("synack_retransmits", p.SynAckRetrans);
        j.WriteNumber("syn_cookies", p.Cookies);
        Counts(j, "drops", p.Drops);
        Counts(j, "aborts", p.Aborts);
        j.WriteNumber("began_before_trace", p.BeganBeforeTrace);
        j.WriteNumber("expired", p.Expired);
        j.WriteNumber("evicted", p.Evicted);
        j.WriteNumber("still_open", p.StillOpen);
        Latency(j, "handshake_us", p.Handshake);
        Latency(j, "queue_wait_us", p.QueueWait);
        Latency(j, "total_us", p.Total);
        j.WriteNumber("ack_drops", p.AckDrops);
        j.WriteNumber("ack_held_clients", p.AckHeldClients);
        Latency(j, "ack_hold_us", p.AckHold);
        Application(j, p.App);
        j.WriteNumber("span_s", Math.Round(p.SpanSeconds, 6));
        j.WriteNumber("arrivals_per_s", Math.Round(p.ArrivalRate, 3));
        j.WriteNumber("accepts_per_s", Math.Round(p.AcceptRate, 3));
        j.WriteNumber("peak_q", p.PeakQ);
        j.WriteNumber("peak_q0", p.PeakQ0);
        j.WriteNumber("qmax", p.QMax);
        j.WriteNumber("queue_full_share", Math.Round(p.QueueFullShare, 4));
        j.WriteStartArray("slowest");
        foreach (var line in p.Slowest) Slow(j, line);
        j.WriteEndArray();
        if (p.Dotnet is { } a) App(j, a);
        else j.WriteNull("app");
        j.WriteEndObject();
    }

    /// <summary>The .NET application behind the port (--dotnet), or null.</summary>
    private static void App(Utf8JsonWriter j, AppSummary a)
    {
        j.WriteStartObject("app");
        j.WriteNumber("pid", a.Pid);
        j.WriteString("comm", a.Comm);
        j.WriteNumber("joined", a.Joined);
        j.WriteNumber("requests", a.Requests);
        j.WriteNumber("rejected", a.Rejected);
        j.WriteNumber("unjoined", a.Unjoined);
        Latency(j, "accept_to_app_us", a.AcceptToApp);
        Latency(j, "first_request_us", a.FirstRequest);
        j.WriteNumber("pool_samples", a.PoolSamples);
        j.WriteNumber("pool_backlog_samples", a.BacklogSamples);
        j.WriteNumber("pool_queue_first", a.FirstQueue);
        j.WriteNumber("pool_queue_peak", a.PeakQueue);
        j.WriteNumber("pool_queue_last", a.LastQueue);
        j.WriteNumber("pool_threads_min", a.MinThreads);
        j.WriteNumber("pool_threads_max", a.MaxThreads);
        j.WriteNumber("starvation_adjustments", a.StarvationAdjustments);
        j.WriteNumber("blocking_adjustments", a.BlockingAdjustments);
        j.WriteNumber("gc_pauses", a.GcPauses);
        j.WriteNumber("gc_pause_total_us", a.GcPauseTotalUs);
        j.WriteNumber("gc_pause_max_us", a.GcPauseMaxUs);
        j.WriteNumber("long_queue_waits", a.LongWaits);
        j.WriteNumber("long_queue_waits_in_gc", a.LongWaitsInGc);
        j.WriteEndObject();
    }

    private static void Application(Utf8JsonWriter j, ApplicationSummary a)
    {
        j.WriteStartObject("application");
        j.WriteNumber("first_reads", a.FirstReads);
        j.WriteNumber("first_writes", a.FirstWrites);
        j.WriteNumber("wrote_first", a.WroteFirst);
        j.WriteNumber("closes", a.Closes);
        Counts(j, "closed_by", a.ClosedBy);
        j.WriteNumber("resets", a.Resets);
        j.WriteNumber("bytes_in", a.BytesIn);
        j.WriteNumber("bytes_out", a.BytesOut);
        j.WriteNumber("requests_before_accept", a.RequestsBeforeAccept);
        j.WriteNumber("only_application", a.OnlyApplication);
        Latency(j, "accept_to_read_us", a.AcceptToRead);
        Latency(j, "data_age_us", a.DataAge);
        Latency(j, "unread_us", a.Unread);
        Latency(j, "before_accept_us", a.BeforeAccept);
        Latency(j, "read_to_write_us", a.ReadToWrite);
        Latency(j, "lifetime_us", a.Lifetime);
        j.WriteEndObject();
    }

    private static void Slow(Utf8JsonWriter j, SlowLine line)
    {
        var c = line.Connection;
        j.WriteStartObject();
        j.WriteString("source", c.Source);
        j.WriteNumber("source_port", c.SourcePort);
        j.WriteNumber("attempts", c.Attempts);
        j.WriteNumber("drops", c.Drops);
        j.WriteNumber("synack_retransmits", c.SynAckRetrans);
        j.WriteNumber("ack_drops", c.AckDrops);
        NumberOrNull(j, "ack_hold_us", c.AckHoldNs / 1000);
        NumberOrNull(j, "handshake_us", c.HandshakeNs / 1000);
        NumberOrNull(j, "queue_wait_us", c.QueueWaitNs / 1000);
        NumberOrNull(j, "total_us", c.TotalNs / 1000);
        NumberOrNull(j, "accept_to_read_us", c.AcceptToReadNs / 1000);
        NumberOrNull(j, "data_age_us", c.DataAgeNs / 1000);
        NumberOrNull(j, "read_to_write_us", c.ReadToWriteNs / 1000);
        NumberOrNull(j, "lifetime_us", c.LifetimeNs / 1000);
        if (c.Closed) j.WriteString("closed_by", Tcpq.Events.Closers.Name(c.Closer));
        else j.WriteNull("closed_by");
        j.WriteBoolean("accepted", c.Accepted);
        j.WriteBoolean("aborted", c.Aborted);
        NumberOrNull(j, "pid", c.Pid);
        if (c.Comm is null) j.WriteNull("comm");
        else j.WriteString("comm", c.Comm);
        j.WriteString("text", line.Text);
        j.WriteEndObject();
    }

    private static void Counts(Utf8JsonWriter j, string name, IReadOnlyDictionary<string, long> counts)
    {
        j.WriteStartObject(name);
        foreach (var (k, v) in counts) j.WriteNumber(k, v);
        j.WriteEndObject();
    }

    private static void Latency(Utf8JsonWriter j, string name, LatencySummary l)
    {
        j.WriteStartObject(name);
        j.WriteNumber("count", l.Count);
        j.WriteNumber("p50", l.P50);
        j.WriteNumber("p90", l.P90);
        j.WriteNumber("p99", l.P99);
        j.WriteNumber("max", l.Max);
        j.WriteEndObject();
    }

    private static void NumberOrNull(Utf8JsonWriter j, string name, ulong? v)
    {
        if (v is ulong x) j.WriteNumber(name, x);
        else j.WriteNull(name);
    }
}
