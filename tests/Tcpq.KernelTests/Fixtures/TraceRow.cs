using System.Text.Json;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>One row of <c>tcpq trace --format json</c>.</summary>
public sealed record TraceRow(
    long Ts, string Action, string SourceIp, int SourcePort, int DestPort, int? Q0, int? Q, int? QMax,
    string DestIp, int? Attempt, long? WaitUs, int? Pid, string? Comm, string? Reason, uint NetNs)
{
    /// <summary>first-read, first-write, close (issue #13).</summary>
    public long? BytesIn { get; init; }
    public long? BytesOut { get; init; }
    public long? DataAgeUs { get; init; }
    public string? ClosedBy { get; init; }
    public bool? Reset { get; init; }

    public static TraceRow Parse(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var r = doc.RootElement;
        int? I(string n) => r.GetProperty(n).ValueKind == JsonValueKind.Null ? null : r.GetProperty(n).GetInt32();
        long? L(string n) => r.GetProperty(n).ValueKind == JsonValueKind.Null ? null : r.GetProperty(n).GetInt64();
        string? S(string n) => r.GetProperty(n).ValueKind == JsonValueKind.Null ? null : r.GetProperty(n).GetString();
        return new TraceRow(
            // app rows about a whole process (app-pool, app-starve, app-gc) have no 4-tuple: "" and 0
            r.GetProperty("ts").GetInt64(), S("action")!, S("source_ip") ?? "", I("source_port") ?? 0, I("dest_port") ?? 0,
            I("q0"), I("q"), I("qmax"), S("dest_ip") ?? "", I("attempt"), L("wait_us"), I("pid"), S("comm"), S("reason"),
            r.GetProperty("netns").GetUInt32())
        {
            BytesIn = L("bytes_in"), BytesOut = L("bytes_out"), DataAgeUs = L("data_age_us"), ClosedBy = S("closed_by"),
            Reset = r.GetProperty("reset").ValueKind == JsonValueKind.Null ? null : r.GetProperty("reset").GetBoolean(),
        };
    }

    public override string ToString() =>
        $"{Action} {SourceIp}:{SourcePort}->{DestIp}:{DestPort} q0={Q0} q={Q} qmax={QMax} attempt={Attempt} wait_us={WaitUs} pid={Pid} comm={Comm} reason={Reason} netns={NetNs} in={BytesIn} out={BytesOut} age={DataAgeUs} closed_by={ClosedBy} reset={Reset}";
}
