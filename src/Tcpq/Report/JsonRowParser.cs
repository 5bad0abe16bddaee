using System.Text.Json;
using Tcpq.Events;

namespace Tcpq.Report;

/// <summary>Lines of <c>tcpq trace --format json</c> back into events: a null field leaves its
/// flag unset; unknown fields are skipped (a later tcpq may add some).</summary>
internal sealed class JsonRowParser(ReasonNames reasons) : IRowParser
{
    [Flags]
    private enum Seen { None = 0, Ts = 1, Action = 2, Source = 4, SourcePort = 8, DestPort = 16, All = 31 }

    public void Parse(ReadOnlySpan<byte> line, ref TcpqEvent e)
    {
        e = default;
        try
        {
            ParseObject(line, ref e);
        }
        catch (JsonException x)
        {
            throw new RowException($"not a JSON object ({FirstSentence(x.Message)})");
        }
        catch (Exception x) when (x is InvalidOperationException or FormatException)
        {
            throw new RowException($"a field has the wrong type ({FirstSentence(x.Message)})");
        }
    }

    private void ParseObject(ReadOnlySpan<byte> line, ref TcpqEvent e)
    {
        var r = new Utf8JsonReader(line, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        if (!r.Read() || r.TokenType != JsonTokenType.StartObject) throw new RowException("not a JSON object");
        var seen = Seen.None;
        uint q0 = 0, q = 0, qmax = 0;
        int queues = 0, nulls = 0;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            var name = r.ValueSpan;
            if (!r.Read()) break;
            bool isNull = r.TokenType == JsonTokenType.Null;
            if (name.SequenceEqual("ts"u8)) { e.TsNs = r.GetUInt64(); seen |= Seen.Ts; }
            else if (name.SequenceEqual("action"u8)) { e.Kind = FieldParsers.Kind(Text(ref r)); seen |= Seen.Action; }
            // null 4-tuple fields: an app row about a whole process (checked against the action below)
            else if (name.SequenceEqual("source_ip"u8)) { if (!isNull) FieldParsers.Address(Text(ref r), ref e.SourceAddress, "source_ip"); else nulls++; seen |= Seen.Source; }
            else if (name.SequenceEqual("source_port"u8)) { if (!isNull) e.SourcePort = r.GetUInt16(); else nulls++; seen |= Seen.SourcePort; }
            else if (name.SequenceEqual("dest_port"u8)) { if (!isNull) e.DestPort = r.GetUInt16(); else nulls++; seen |= Seen.DestPort; }
            else if (name.SequenceEqual("dest_ip"u8)) { if (!isNull) FieldParsers.Address(Text(ref r), ref e.DestAddress, "dest_ip"); }
            else if (name.SequenceEqual("q0"u8)) { if (!isNull) { q0 = r.GetUInt32(); queues++; } }
            else if (name.SequenceEqual("q"u8)) { if (!isNull) { q = r.GetUInt32(); queues++; } }
            else if (name.SequenceEqual("qmax"u8)) { if (!isNull) { qmax = r.GetUInt32(); queues++; } }
            else if (name.SequenceEqual("attempt"u8)) { if (!isNull) { e.Attempt = r.GetUInt32(); e.Flags |= EventFlags.Attempt; } }
            else if (name.SequenceEqual("wait_us"u8)) { if (!isNull) { e.WaitNs = FieldParsers.MicrosToNs(r.GetUInt64(), "wait_us"); e.Flags |= EventFlags.Wait; } }
            else if (name.SequenceEqual("pid"u8)) { if (!isNull) { e.Pid = r.GetUInt32(); e.Flags |= EventFlags.Task; } }
            else if (name.SequenceEqual("comm"u8)) { if (!isNull) e.Comm = Comm16.From(Text(ref r)); }
            else if (name.SequenceEqual("reason"u8)) { if (!isNull) e.Reason = reasons.Parse(Text(ref r)); }
            else if (name.SequenceEqual("netns"u8)) { if (!isNull) e.NetNs = r.GetUInt32(); }
            else if (name.SequenceEqual("bytes_in"u8)) { if (!isNull) { e.BytesIn = r.GetUInt64(); e.Flags |= EventFlags.Bytes; } }
            else if (name.SequenceEqual("bytes_out"u8)) { if (!isNull) { e.BytesOut = r.GetUInt64(); e.Flags |= EventFlags.Bytes; } }
            else if (name.SequenceEqual("data_age_us"u8)) { if (!isNull) { e.DataAgeNs = FieldParsers.MicrosToNs(r.GetUInt64(), "data_age_us"); e.Flags |= EventFlags.DataAge; } }
            else if (name.SequenceEqual("closed_by"u8))
            {
                if (!isNull)
                {
                    if (!Closers.TryParse(Text(ref r), out e.Closer)) throw new RowException("bad closed_by");
                    e.Flags |= EventFlags.Closer;
                }
            }
            else if (name.SequenceEqual("reset"u8)) { if (!isNull) e.Reset = r.GetBoolean() ? (byte)1 : (byte)0; }
            else r.Skip();
        }
        if (r.TokenType != JsonTokenType.EndObject || r.Read())
            throw new RowException("not one JSON object (truncated?)");
        if (seen != Seen.All)
            throw new RowException($"missing {string.Join(", ", Missing(seen))}");
        if (nulls != 0 && (nulls != 3 || !EventKinds.MayBeProcessWide(e.Kind)))
            throw new RowException("source_ip, source_port and dest_port are null only in a process-wide app row");
        if (queues == 3)
        {
            (e.Q0, e.Q, e.QMax) = (q0, q, qmax);
            e.Flags |= EventFlags.Queues;
        }
        else if (queues != 0) throw new RowException("q0, q and qmax must be all set or all null");
    }

    private static ReadOnlySpan<byte> Text(ref Utf8JsonReader r)
    {
        if (r.TokenType != JsonTokenType.String) throw new InvalidOperationException($"expected a string, got {r.TokenType}");
        // tcpq's own strings are never escaped except a comm with odd bytes: unescape then
        return r.ValueIsEscaped ? System.Text.Encoding.UTF8.GetBytes(r.GetString()!) : r.ValueSpan;
    }

    private static IEnumerable<string> Missing(Seen seen)
    {
        if (!seen.HasFlag(Seen.Ts)) yield return "ts";
        if (!seen.HasFlag(Seen.Action)) yield return "action";
        if (!seen.HasFlag(Seen.Source)) yield return "source_ip";
        if (!seen.HasFlag(Seen.SourcePort)) yield return "source_port";
        if (!seen.HasFlag(Seen.DestPort)) yield return "dest_port";
    }

    private static string FirstSentence(string m)
    {
        int dot = m.IndexOf(". ", StringComparison.Ordinal);
        return dot > 0 ? m[..dot] : m.TrimEnd('.');
    }
}
