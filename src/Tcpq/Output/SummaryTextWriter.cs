using Tcpq.Connections.Diagnosis;
using System.Globalization;
using Tcpq.Connections;

namespace Tcpq.Output;

/// <summary>The summary for people: one block per listening port (counts, an aligned latency
/// table, a bar chart of total times, the slowest connections in words), then the diagnosis.
/// <paramref name="terminal"/> draws bars with block characters; otherwise plain '#'. Every line
/// passes <see cref="DisplayTextWriter"/>: a comm or a file name in it shows its control characters escaped.</summary>
public sealed class SummaryTextWriter(TextWriter w, bool terminal)
{
    private readonly TextWriter w = DisplayTextWriter.Wrap(w);

    private const int BarWidth = 40;
    private static readonly string[] BucketNames = ["< 1 ms", "1–10 ms", "10–100 ms", "0.1–1 s", "1–3 s", "3–10 s", "≥ 10 s"];

    public void Write(TraceSummary s)
    {
        w.WriteLine($"tcpq summary of {s.Source}: {s.Events} event{Rulebook.S(s.Events)}, {s.Ports.Count} listening port{Rulebook.S(s.Ports.Count)}");
        if (s.InputError != null) w.WriteLine($"  (reading stopped early: {s.InputError})");
        foreach (var p in s.Ports) WritePort(p);
        w.WriteLine();
        w.WriteLine("diagnosis");
        foreach (var f in s.Findings)
            w.WriteLine($"  {f.Severity.ToString().ToUpperInvariant(),-8}  {f.Rule}: {f.Text}");
        w.Flush();
    }

    private void WritePort(PortSummary p)
    {
        w.WriteLine();
        string where = p.IsOther ? p.Label : $"{(p.Address.Length == 0 ? "*" : p.Address.Contains(':') ? $"[{p.Address}]" : p.Address)}:{p.Port}";
        w.WriteLine(p.NetNs != 0 ? $"{where}  netns {p.NetNs}" : where);
        Line("connections", $"{p.Connections} seen · {p.Established} established · {p.Accepted} accepted · {p.Aborted} aborted{Aborts(p)}");
        Line("SYNs", $"{p.Syns} · {p.Retries} client retr{(p.Retries == 1 ? "y" : "ies")} · {p.DroppedSyns} dropped{Drops(p)} · {p.Cookies} SYN cookie{Rulebook.S(p.Cookies)} · {p.SynAckRetrans} SYN-ACK retransmit{Rulebook.S(p.SynAckRetrans)}");
        if (p.AckDrops > 0) Line("final ACKs", $"{p.AckDrops} refused (ACK or data segments) · {p.AckHeldClients} client{Rulebook.S(p.AckHeldClients)} held by them");
        Line("queue", $"peak Q {p.PeakQ} / Qmax {p.QMax} · full {Rulebook.Percent(p.QueueFullShare)} of the time · peak Q0 {p.PeakQ0}");
        Line("rates", $"{Rulebook.Rate(p.ArrivalRate)} arrivals/s · {Rulebook.Rate(p.AcceptRate)} accepts/s over {p.SpanSeconds.ToString("0.##", CultureInfo.InvariantCulture)} s");
        if (p.App.Any)
            Line("application", $"{p.App.FirstReads} first reads · {p.App.FirstWrites} first writes ({p.App.WroteFirst} before any read) · {p.App.Closes} closed{ClosedBy(p.App)} · {p.App.RequestsBeforeAccept} request{Rulebook.S(p.App.RequestsBeforeAccept)} before accept");
        if (p.Expired + p.Evicted + p.StillOpen + p.BeganBeforeTrace > 0)
            Line("unfinished", $"{p.StillOpen} still open at the end · {p.Expired} expired (idle) · {p.Evicted} evicted (table full) · {p.BeganBeforeTrace} began before tracing");

        if (p.Dotnet is { } a) Dotnet(a);

        w.WriteLine();
        w.WriteLine($"  {"",-21}{"count",8}{"p50",11}{"p90",11}{"p99",11}{"max",11}");
        Latency("handshake", p.Handshake);
        Latency("accept-queue wait", p.QueueWait);
        Latency("total", p.Total);
        if (p.AckHold.Count > 0) Latency("held by ACK drops", p.AckHold);
        if (p.App.Any)
        {
            Latency("accept → first read", p.App.AcceptToRead);
            Latency("  request unread", p.App.Unread);
            Latency("first read → write", p.App.ReadToWrite);
            Latency("lifetime", p.App.Lifetime);
        }
        if (p.Dotnet is { } dotnet)
        {
            if (dotnet.AcceptToApp.Count > 0) Latency("accept → Kestrel", dotnet.AcceptToApp);
            if (dotnet.FirstRequest.Count > 0) Latency("first request", dotnet.FirstRequest);
        }

        var chart = p.Total.Count >= 2 ? ("total time (first SYN to accept)", p.Total) : p.Handshake.Count >= 2 ? ("handshake time (first SYN to syn-aa)", p.Handshake) : default;
        if (chart.Item2 is LatencySummary h) Histogram(chart.Item1, h);

        if (p.Slowest.Count > 0)
        {
            w.WriteLine();
            w.WriteLine("  slowest");
            foreach (var line in p.Slowest) w.WriteLine($"    {line.Text}");
        }
    }

    /// <summary>The .NET application behind the port (--dotnet): its connections, pool and GC.</summary>
    private void Dotnet(AppSummary a)
    {
        Line("app", a.Joined == 0 && a.Requests == 0 && a.Unjoined == 0
            ? $"{a.Name} · {a.Rejected} refused by Kestrel's limit · its connections and requests not traced (-e app-conn,app-request)" // the default session
            : $"{a.Name} · {a.Joined} connection{Rulebook.S(a.Joined)} joined · {a.Requests} request{Rulebook.S(a.Requests)} · {a.Rejected} refused by Kestrel's limit");
        string pool = a.PoolSamples > 0 ? $"threads {a.MinThreads}→{a.MaxThreads} · queued work peak {a.PeakQueue}" : $"threads up to {a.MaxThreads}";
        Line("thread pool", $"{pool} · {a.StarvationAdjustments} starvation + {a.BlockingAdjustments} blocking injection{Rulebook.S(a.Injections)}");
        Line("GC", a.GcPauses == 0 ? "no pauses" : $"{a.GcPauses} pause{Rulebook.S(a.GcPauses)} · longest {Durations.TextUs(a.GcPauseMaxUs)} · {Durations.TextUs(a.GcPauseTotalUs)} in all · {a.LongWaitsInGc} of {a.LongWaits} long accept-queue waits crossed one");
    }

    private void Line(string label, string text) => w.WriteLine($"  {label,-13}{text}");

    private static string ClosedBy(ApplicationSummary a) =>
        a.Closes == 0 ? "" : $" (by {string.Join(", ", a.ClosedBy.Select(c => $"{c.Key} {c.Value}"))}; {a.Resets} with a reset; {a.BytesIn} B in, {a.BytesOut} B out)";

    private static string Drops(PortSummary p) =>
        p.SynDrops.Count == 0 ? "" : $" ({string.Join(", ", p.SynDrops.Select(d => $"{d.Key} {d.Value}"))})";

    private static string Aborts(PortSummary p) =>
        p.Aborts.Count == 0 ? "" : $" ({string.Join(", ", p.Aborts.Select(a => $"{a.Key} {a.Value}"))})";

    private void Latency(string name, LatencySummary l)
    {
        string V(long us) => l.Count == 0 ? "-" : Durations.TextUs(us);
        w.WriteLine($"  {name,-21}{l.Count,8}{V(l.P50),11}{V(l.P90),11}{V(l.P99),11}{V(l.Max),11}");
    }

    private void Histogram(string title, LatencySummary l)
    {
        w.WriteLine();
        w.WriteLine($"  {title}");
        int first = Array.FindIndex(l.Buckets, c => c > 0), last = Array.FindLastIndex(l.Buckets, c => c > 0);
        long most = l.Buckets.Max();
        for (int i = first; i <= last; i++)
        {
            int width = (int)Math.Ceiling((double)l.Buckets[i] / most * BarWidth);
            string bar = new(terminal ? '█' : '#', width);
            w.WriteLine($"    {BucketNames[i],-10} {bar,-BarWidth} {l.Buckets[i]}");
        }
    }
}
