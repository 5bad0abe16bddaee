using System.Text;
using Tcpq.Connections;
using Tcpq.Events;
using Tcpq.Output;
using Tcpq.Report;

namespace Tcpq.Tests;

public class ReportReaderTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    private static string Write(EventFormat format, IEnumerable<TcpqEvent> events)
    {
        var ms = new MemoryStream();
        using (var w = EventWriters.Create(format, ms, new EventContext(new WallClock(new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc), (long)Scenario.Start), Scenario.Reasons)))
        {
            w.WriteHeader();
            foreach (var e in events) w.Write(e);
            w.Flush();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static (TraceReadResult Result, List<TcpqEvent> Events) Read(string text, bool lenient = false)
    {
        var sink = new CollectingSink();
        var r = TraceReader.Read(new MemoryStream(Encoding.UTF8.GetBytes(text)), "trace.csv", sink, lenient);
        return (r, sink.Events);
    }

    private static Scenario Mixed()
    {
        var s = new Scenario(listener: "::1")
            .Syn("::ffff:10.0.0.1", 50066, 0, 1, (0, 2, 1)).SynDrop("10.0.0.1", 50066, 0.01, 1, (0, 2, 1))
            .Syn("10.0.0.1", 50066, 1000, 2, (0, 1, 1), firstMs: 0)
            .Established("10.0.0.1", 50066, 1000.2, 0, 2, (1, 1, 1))
            .Accept("10.0.0.1", 50066, 1500, 1000.2, pid: 4242, comm: "a,\"b\"")
            .Syn("2001:db8::7", 443, 2000, 1, (0, 0, 1))
            .Abort("2001:db8::7", 443, 2500, 2000.5)
            .SynAckRetrans("2001:db8::7", 443, 2600, 1, 2000);
        var ack = s.Make(EventKind.AckDrop, "10.0.0.9", 9, 3000);
        ack.Reason = 61; // a kernel reason: TCP_LISTEN_OVERFLOW
        ack.Flags = EventFlags.Queues;
        ack.QMax = 1;
        s.Events.Add(ack);
        return s;
    }

    [Theory]
    [InlineData(EventFormat.Csv)]
    [InlineData(EventFormat.Json)]
    public void Reads_back_every_field_the_format_holds(EventFormat format)
    {
        var written = Mixed().Events;
        var (result, read) = Read(Write(format, written));
        Assert.Null(result.Error);
        Assert.Equal(format, result.Format);
        Assert.Equal(written.Count, read.Count);
        for (int i = 0; i < written.Count; i++)
        {
            var w = written[i];
            var r = read[i];
            Assert.Equal((w.TsNs, w.Kind, w.SourcePort, w.DestPort, w.Flags), (r.TsNs, r.Kind, r.SourcePort, r.DestPort, r.Flags));
            Assert.True(((ReadOnlySpan<byte>)w.SourceAddress).SequenceEqual(r.SourceAddress), $"row {i} source");
            Assert.True(((ReadOnlySpan<byte>)w.DestAddress).SequenceEqual(r.DestAddress), $"row {i} dest");
            if (w.Has(EventFlags.Queues)) Assert.Equal((w.Q0, w.Q, w.QMax), (r.Q0, r.Q, r.QMax));
            if (w.Has(EventFlags.Attempt)) Assert.Equal(w.Attempt, r.Attempt);
            if (w.Has(EventFlags.Wait)) Assert.Equal(w.WaitNs / 1000, r.WaitNs / 1000);
            if (w.Has(EventFlags.Task)) Assert.Equal((w.Pid, Encoding.ASCII.GetString(w.Comm)), (r.Pid, Encoding.ASCII.GetString(r.Comm)));
            Assert.Equal(Scenario.Reasons.Name(w.Reason), result.Reasons.Name(r.Reason));
            if (format == EventFormat.Json) Assert.Equal(w.NetNs, r.NetNs);
        }
        // tcpq's own reason names map back to the same values
        Assert.Equal(DropReasons.AcceptQueueFull, read[1].Reason);
        Assert.Equal(DropReasons.PeerReset, read.Single(e => e.Kind == EventKind.Abort).Reason);
        Assert.Equal("TCP_LISTEN_OVERFLOW", result.Reasons.Name(read[^1].Reason));
    }

    [Fact]
    public void Reads_the_seed_format_with_its_nine_columns_and_hex_addresses()
    {
        var (result, read) = Read(File.ReadAllText(Fixture("seed-sample.csv")));
        Assert.Equal(EventFormat.Seed, result.Format);
        Assert.Equal(5, read.Count);
        var first = read[0];
        Assert.Equal("172.16.170.1", AddressText.ToText(first.SourceAddress));
        Assert.Equal((185458485779874UL, EventKind.Syn, (ushort)50066, (ushort)2000), (read[0].TsNs, read[0].Kind, read[0].SourcePort, read[0].DestPort));
        Assert.Equal((1u, 1u, 2u), (read[4].Q0, read[4].Q, read[4].QMax));
        Assert.All(read, e => Assert.Equal(EventFlags.Queues, e.Flags));
    }

    [Fact]
    public void A_seed_trace_written_by_tcpq_reads_back_too()
    {
        var written = Mixed().Events.Where(e => e.SourceAddress.IsV4Mapped).ToList();
        var (result, read) = Read(Write(EventFormat.Seed, written));
        Assert.Equal(EventFormat.Seed, result.Format);
        Assert.Equal(written.Select(e => (e.TsNs, e.Kind, e.SourcePort)), read.Select(e => (e.TsNs, e.Kind, e.SourcePort)));
    }

    [Theory]
    [InlineData("hello,world\n1,2\n", "trace.csv line 1: not a tcpq trace")]
    [InlineData("", "trace.csv line 1: empty")]
    [InlineData("TS,Date,Action,Source IP,Source Port,Dest Port,Q0,Q,Qmax\n1,d,syn,0x0100007f,1,2,0,0,1\n2,d,syn,0x0100007f,1,2,0,0\n", "trace.csv line 3: 8 fields, expected 9 (truncated?)")]
    [InlineData("TS,Date,Action,Source IP,Source Port,Dest Port,Q0,Q,Qmax\n1,d,syn,0x0100007f,1,2,0,0,1\nx,d,syn,0x0100007f,1,2,0,0,1\n", "trace.csv line 3: bad TS 'x'")]
    [InlineData("TS,Date,Action,Source IP,Source Port,Dest Port,Q0,Q,Qmax\n1,d,bogus,0x0100007f,1,2,0,0,1\n", "trace.csv line 2: bad Action 'bogus'")]
    [InlineData("TS,Date,Action,Source IP,Source Port,Dest Port,Q0,Q,Qmax\n1,d,syn,0x0100007f,70000,2,0,0,1\n", "trace.csv line 2: bad Source Port '70000'")]
    [InlineData("{\"ts\":1,\"action\":\"syn\",\"source_ip\":\"127.0.0.1\",\"source_port\":1,\"dest_port\":2}\n{\"ts\":2,\"action\":\"syn\",\"source_ip\":\"127.0.0.1\",\"sou", "trace.csv line 2: not a JSON object")]
    [InlineData("{\"ts\":1,\"action\":\"syn\",\"source_port\":1,\"dest_port\":2}\n", "trace.csv line 1: missing source_ip")]
    [InlineData("{\"ts\":\"x\",\"action\":\"syn\",\"source_ip\":\"127.0.0.1\",\"source_port\":1,\"dest_port\":2}\n", "trace.csv line 1: a field has the wrong type")]
    public void A_bad_file_is_an_error_naming_the_line(string text, string message)
    {
        var e = Assert.Throws<TcpqException>(() => Read(text));
        Assert.Equal(ExitCode.BadInput, e.Code);
        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public void A_row_cut_short_at_the_end_of_the_file_says_so()
    {
        var text = Write(EventFormat.Csv, Mixed().Events);
        var cut = text[..(text.Length - 20)];
        var e = Assert.Throws<TcpqException>(() => Read(cut));
        int lines = cut.Count(c => c == '\n') + 1;
        Assert.Contains($"line {lines}:", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Lenient_reading_keeps_the_rows_before_the_bad_line()
    {
        var text = Write(EventFormat.Csv, Mixed().Events);
        var lines = text.Split('\n').ToList();
        lines.Insert(4, "garbage");
        var (result, read) = Read(string.Join('\n', lines), lenient: true);
        Assert.Equal(3, read.Count);
        Assert.Equal(3, result.Rows);
        Assert.StartsWith("trace.csv line 5: ", result.Error);
    }

    [Fact]
    public void Streams_a_large_input_in_bounded_memory()
    {
        // 2 million rows produced on the fly: the reader never holds more than its buffer
        var input = new GeneratedTrace(1_000_000);
        var tracker = new ConnectionTracker();
        GC.Collect();
        long before = GC.GetTotalMemory(true);
        var result = TraceReader.Read(input, "generated", tracker);
        // what is still held (a full collection first): garbage awaiting a GC is not growth
        long after = GC.GetTotalMemory(true);
        tracker.Complete();
        Assert.Equal(2_000_000, result.Rows);
        Assert.Equal(1_000_000, Assert.Single(tracker.Listeners).Accepted);
        Assert.True(after - before < 64 << 20, $"grew {(after - before) >> 20} MB");
    }

    /// <summary>A csv trace of <paramref name="connections"/> syn + accept pairs, generated as read.</summary>
    internal sealed class GeneratedTrace(int connections) : Stream
    {
        private int _next = -1;
        private byte[] _pending = CsvEventWriter.Header15.ToArray(); // 15 columns, as the rows below
        private int _offset;

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = 0;
            while (n < count)
            {
                if (_offset == _pending.Length)
                {
                    if (++_next >= connections) break;
                    long ts = 1_000_000_000 + _next * 1000L;
                    int a = _next % 250 + 1, p = 1024 + _next % 60000;
                    _pending = Encoding.ASCII.GetBytes(
                        $"{ts},2026-01-01T00:00:00.000000Z,syn,10.{_next >> 16 & 255}.{_next >> 8 & 255}.{a},{p},8080,0,0,128,10.0.0.1,1,,,,\n" +
                        $"{ts + 500},2026-01-01T00:00:00.000000Z,accept,10.{_next >> 16 & 255}.{_next >> 8 & 255}.{a},{p},8080,,,,10.0.0.1,1,0,99,srv,\n");
                    _offset = 0;
                }
                int take = Math.Min(count - n, _pending.Length - _offset);
                Array.Copy(_pending, _offset, buffer, offset + n, take);
                _offset += take;
                n += take;
            }
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
