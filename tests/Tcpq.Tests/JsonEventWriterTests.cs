using System.Text.Json;
using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Tests;

public class JsonEventWriterTests
{
    private static readonly string[] Names =
        ["ts", "date", "action", "source_ip", "source_port", "dest_port", "q0", "q", "qmax", "dest_ip", "attempt", "wait_us", "pid", "comm", "reason", "bytes_in", "bytes_out", "data_age_us", "closed_by", "reset", "netns"];

    private static List<JsonElement> Objects(params TcpqEvent[] events)
    {
        var reasons = new DropReasons(new Dictionary<uint, string> { [40] = "SKB_DROP_REASON_TCP_LISTEN_OVERFLOW" });
        var text = TestEvents.Render(s => new JsonEventWriter(s, TestEvents.Context(reasons)), events);
        var result = new List<JsonElement>();
        foreach (var line in TestEvents.Lines(text))
        {
            using var doc = JsonDocument.Parse(line);
            Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
            result.Add(doc.RootElement.Clone());
        }
        Assert.Equal(events.Length, result.Count);
        return result;
    }

    [Fact]
    public void Each_event_is_one_object_with_the_csv_fields_in_snake_case()
    {
        var o = Objects(TestEvents.Syn())[0];
        Assert.Equal(Names, o.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void A_syn_object_carries_its_values()
    {
        var o = Objects(TestEvents.Syn())[0];
        Assert.Equal(1001234567000ul, o.GetProperty("ts").GetUInt64());
        Assert.Equal("2024-05-06T07:08:10.234567Z", o.GetProperty("date").GetString());
        Assert.Equal("syn", o.GetProperty("action").GetString());
        Assert.Equal("172.16.170.1", o.GetProperty("source_ip").GetString());
        Assert.Equal(50066, o.GetProperty("source_port").GetInt32());
        Assert.Equal(2000, o.GetProperty("dest_port").GetInt32());
        Assert.Equal((0, 2, 128), (o.GetProperty("q0").GetInt32(), o.GetProperty("q").GetInt32(), o.GetProperty("qmax").GetInt32()));
        Assert.Equal("10.0.0.5", o.GetProperty("dest_ip").GetString());
        Assert.Equal(1, o.GetProperty("attempt").GetInt32());
        Assert.Equal(4026531840u, o.GetProperty("netns").GetUInt32());
    }

    [Fact]
    public void Fields_whose_flag_is_not_set_are_null()
    {
        var o = Objects(TestEvents.Accept(EventFlags.None))[0];
        foreach (var name in new[] { "q0", "q", "qmax", "attempt", "wait_us", "pid", "comm", "reason" })
            Assert.True(o.GetProperty(name).ValueKind == JsonValueKind.Null, $"{name} is {o.GetProperty(name)}");
    }

    [Fact]
    public void Fields_whose_flag_is_set_are_values()
    {
        var e = TestEvents.Accept(EventFlags.Wait | EventFlags.Task);
        e.Reason = 40;
        var o = Objects(e)[0];
        Assert.Equal(1234, o.GetProperty("wait_us").GetInt32());
        Assert.Equal(4242, o.GetProperty("pid").GetInt32());
        Assert.Equal("nginx", o.GetProperty("comm").GetString());
        Assert.Equal("TCP_LISTEN_OVERFLOW", o.GetProperty("reason").GetString());
    }

    [Theory]
    [InlineData("say \"hi\"")]
    [InlineData("back\\slash")]
    [InlineData("tab\there")]
    [InlineData("a,b")]
    public void A_comm_is_escaped_as_json(string comm)
    {
        var o = Objects(TestEvents.Accept(EventFlags.Task, comm))[0];
        Assert.Equal(comm, o.GetProperty("comm").GetString());
    }

    [Theory]
    [InlineData("caf\u00e9", "caf\u00e9")]
    [InlineData(null, "ab?c")]
    public void A_comm_is_UTF_8_or_has_its_stray_bytes_replaced(string? comm, string expected)
    {
        var e = TestEvents.Accept(EventFlags.Task, comm ?? "");
        if (comm is null) new byte[] { (byte)'a', (byte)'b', 0xff, (byte)'c' }.CopyTo((Span<byte>)e.Comm); // a comm is bytes, not text
        var o = Objects(e)[0];
        Assert.Equal(expected, o.GetProperty("comm").GetString());
    }

    [Fact]
    public void A_thousand_events_in_a_row_are_a_thousand_lines_that_each_parse()
    {
        var events = new TcpqEvent[1000];
        for (int i = 0; i < events.Length; i++)
        {
            events[i] = TestEvents.Accept(EventFlags.Task | EventFlags.Queues, $"w\"{i}");
            events[i].TsNs += (ulong)i;
            events[i].Reason = i % 2 == 0 ? DropReasons.PeerReset : 0;
        }
        var objects = Objects(events);
        for (int i = 0; i < objects.Count; i++)
        {
            Assert.Equal(events[i].TsNs, objects[i].GetProperty("ts").GetUInt64());
            Assert.Equal($"w\"{i}", objects[i].GetProperty("comm").GetString());
            Assert.Equal(i % 2 == 0 ? JsonValueKind.String : JsonValueKind.Null, objects[i].GetProperty("reason").ValueKind);
        }
    }
}
