using System.Net;
using System.Text;
using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Tests;

/// <summary>Builds events and renders them through a writer, for the output tests.</summary>
internal static class TestEvents
{
    /// <summary>2024-05-06 07:08:09 UTC is monotonic 1000 s.</summary>
    public static readonly DateTime ClockUtc = new(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc);
    public const ulong ClockMonotonicNs = 1_000_000_000_000;

    public static EventContext Context(DropReasons? reasons = null) =>
        new(new WallClock(ClockUtc, (long)ClockMonotonicNs), reasons ?? DropReasons.Empty);

    /// <summary>A SYN from 172.16.170.1:50066 to 10.0.0.5:2000 with its queues, 1.234567 s after the clock's reference.</summary>
    public static TcpqEvent Syn()
    {
        var e = new TcpqEvent
        {
            TsNs = ClockMonotonicNs + 1_234_567_000,
            SourcePort = 50066,
            DestPort = 2000,
            Kind = EventKind.Syn,
            Flags = EventFlags.Queues | EventFlags.Attempt,
            Q0 = 0,
            Q = 2,
            QMax = 128,
            Attempt = 1,
            NetNs = 4026531840,
        };
        SetAddress(ref e.SourceAddress, "172.16.170.1");
        SetAddress(ref e.DestAddress, "10.0.0.5");
        return e;
    }

    /// <summary>An accept with every field set, flags chosen by the caller.</summary>
    public static TcpqEvent Accept(EventFlags flags, string comm = "nginx")
    {
        var e = Syn();
        e.Kind = EventKind.Accept;
        e.Q0 = 3;
        e.Flags = flags;
        e.WaitNs = 1_234_999;
        e.Pid = 4242;
        SetComm(ref e.Comm, comm);
        return e;
    }

    /// <summary>IPv4 is stored IPv4-mapped, as the kernel side stores it.</summary>
    public static void SetAddress(ref Address16 a, string text)
    {
        var ip = IPAddress.Parse(text);
        if (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ip = ip.MapToIPv6();
        ip.GetAddressBytes().CopyTo((Span<byte>)a);
    }

    public static void SetComm(ref Comm16 c, string text)
    {
        Span<byte> s = c;
        s.Clear();
        Encoding.UTF8.GetBytes(text).CopyTo(s);
    }

    public static string Render(Func<Stream, IEventWriter> create, params TcpqEvent[] events)
    {
        var stream = new MemoryStream();
        using (var w = create(stream))
        {
            w.WriteHeader();
            foreach (var e in events) w.Write(e);
            w.Flush();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>The lines of the output; it must end with a line break.</summary>
    public static string[] Lines(string text)
    {
        Assert.EndsWith("\n", text);
        return text[..^1].Split('\n');
    }
}

/// <summary>A minimal RFC 4180 field split for one record.</summary>
internal static class Rfc4180
{
    public static List<string> Split(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c != '"') field.Append(c);
                else if (i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
                else quoted = false;
            }
            else if (c == '"' && field.Length == 0) quoted = true;
            else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(c);
        }
        Assert.False(quoted, $"unterminated quote in: {line}");
        fields.Add(field.ToString());
        return fields;
    }
}
