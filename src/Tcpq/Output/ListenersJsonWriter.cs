using System.Text.Json;
using Tcpq.Diag;

namespace Tcpq.Output;

/// <summary>One JSON array per snapshot, on one line (so --watch output is JSON Lines of arrays).</summary>
public sealed class ListenersJsonWriter(TextWriter output) : IListenersWriter
{
    public void Write(DateTime time, IReadOnlyList<ListenerQueue> rows, bool repeated)
    {
        using var buffer = new MemoryStream();
        using (var j = new Utf8JsonWriter(buffer))
        {
            string t = ListenersWriters.Time(time);
            j.WriteStartArray();
            foreach (var l in rows)
            {
                j.WriteStartObject();
                j.WriteString("time"u8, t);
                j.WriteNumber("netns"u8, l.NetNs);
                j.WriteString("local_address"u8, l.LocalAddressText);
                j.WriteNumber("local_port"u8, l.LocalPort);
                j.WriteNumber("q0"u8, l.Q0);
                j.WriteNumber("q"u8, l.Q);
                j.WriteNumber("qmax"u8, l.QMax);
                if (l.Drops is uint d) j.WriteNumber("drops"u8, d);
                else j.WriteNull("drops"u8);
                j.WriteStartArray("owners"u8);
                foreach (var o in l.Owners)
                {
                    j.WriteStartObject();
                    j.WriteNumber("pid"u8, o.Pid);
                    j.WriteString("comm"u8, o.Comm);
                    j.WriteEndObject();
                }
                j.WriteEndArray();
                if (l.OwnersUnknown is null) j.WriteNull("owners_unknown"u8);
                else j.WriteString("owners_unknown"u8, l.OwnersUnknown);
                j.WriteNumber("uid"u8, l.Uid);
                j.WriteNumber("inode"u8, l.Inode);
                // where it runs, only when it runs in a container or pod (the Prometheus label names)
                if (l.Workload is { } workload)
                    foreach (var (_, name, value) in workload.Attributes()) j.WriteString(name, value);
                j.WriteEndObject();
            }
            j.WriteEndArray();
        }
        output.Write(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        output.Write('\n');
        output.Flush();
    }
}
