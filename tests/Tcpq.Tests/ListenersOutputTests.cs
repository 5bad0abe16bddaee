using System.Text.Json;
using Tcpq.Diag;
using Tcpq.Output;
using static Tcpq.Tests.DiagFixtures;

namespace Tcpq.Tests;

public class ListenersOutputTests
{
    private static readonly DateTime Time = new(2026, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc);

    private static ListenerQueue Row(string address, ushort port, uint q0, uint q, uint qmax, uint? drops, params SocketOwner[] owners) =>
        new(4026531840, Addr(address), port, q0, q, qmax, drops, 0, 1234, owners, owners.Length == 0 ? "unknown (uid 0; 3 processes not readable: permission denied)" : null);

    [Fact]
    public void Snapshots_are_built_from_a_dump_with_Q0_counted_per_listener_and_owners_or_why_not()
    {
        DiagSocket[] dump =
        [
            Socket(TcpState.Listen, "0.0.0.0", 80, inode: 1, q: 0, qmax: 128, drops: 0),
            Socket(TcpState.Listen, "::", 443, inode: 2, q: 1, qmax: 4, drops: 7, uid: 33),
            Socket(TcpState.SynRecv, "10.1.1.1", 80, "10.9.9.9", 5000),
            Socket(TcpState.SynRecv, "10.1.1.1", 80, "10.9.9.9", 5001),
            Socket(TcpState.SynRecv, "::ffff:10.1.1.1", 443, "::ffff:10.9.9.9", 5002),
            Socket(TcpState.SynRecv, "10.1.1.1", 22, "10.9.9.9", 5003), // no listener: not counted
        ];
        var owners = new SocketOwners(new() { [1] = [new(10, "nginx"), new(11, "nginx")] }, unreadable: 2);
        var rows = ListenerSnapshot.Build(7, dump, owners);
        Assert.Equal([(80, 2u), (443, 1u)], rows.Select(r => ((int)r.LocalPort, r.Q0)));
        Assert.Equal("10/nginx 11/nginx", ListenersWriters.OwnersText(rows[0]));
        Assert.Empty(rows[1].Owners);
        Assert.Contains("uid 33", rows[1].OwnersUnknown);
        Assert.Contains("permission denied", rows[1].OwnersUnknown);
    }

    [Fact]
    public void Fullest_queue_first()
    {
        var rows = new List<ListenerQueue>
        {
            Row("0.0.0.0", 22, 0, 0, 128, 0),
            Row("127.0.0.1", 8080, 0, 2, 1, 5),
            Row("::", 443, 3, 60, 128, 0),
            Row("0.0.0.0", 80, 0, 60, 128, 9),
        };
        rows.Sort(ListenerQueue.CompareFullestFirst);
        Assert.Equal([8080, 80, 443, 22], rows.Select(r => (int)r.LocalPort));
    }

    [Fact]
    public void Json_is_an_array_of_objects_with_the_fields_the_issue_names()
    {
        var output = new StringWriter();
        ListenersWriters.Create(ListenersFormat.Json, output).Write(Time,
            [Row("127.0.0.1", 8080, 1, 2, 1, 3, new SocketOwner(42, "srv")), Row("::1", 9, 0, 0, 5, null)], repeated: false);
        var text = output.ToString();
        Assert.EndsWith("]\n", text);
        Assert.Single(text.Trim().Split('\n'));
        using var doc = JsonDocument.Parse(text);
        var a = doc.RootElement[0];
        Assert.Equal("127.0.0.1", a.GetProperty("local_address").GetString());
        Assert.Equal(8080, a.GetProperty("local_port").GetInt32());
        Assert.Equal((1, 2, 1, 3), (a.GetProperty("q0").GetInt32(), a.GetProperty("q").GetInt32(), a.GetProperty("qmax").GetInt32(), a.GetProperty("drops").GetInt32()));
        var owner = Assert.Single(a.GetProperty("owners").EnumerateArray());
        Assert.Equal((42, "srv"), (owner.GetProperty("pid").GetInt32(), owner.GetProperty("comm").GetString()));
        Assert.Equal(4026531840u, a.GetProperty("netns").GetUInt32());
        Assert.Equal("2026-01-02T03:04:05.678Z", a.GetProperty("time").GetString());
        var b = doc.RootElement[1];
        Assert.Equal("::1", b.GetProperty("local_address").GetString());
        Assert.Equal(JsonValueKind.Null, b.GetProperty("drops").ValueKind);
        Assert.Empty(b.GetProperty("owners").EnumerateArray());
        Assert.Contains("permission denied", b.GetProperty("owners_unknown").GetString());
    }

    [Fact]
    public void Csv_has_its_header_once_and_quotes_what_needs_it()
    {
        var output = new StringWriter();
        var w = ListenersWriters.Create(ListenersFormat.Csv, output);
        w.Write(Time, [Row("127.0.0.1", 8080, 1, 2, 1, 3, new SocketOwner(42, "a,\"b\""), new SocketOwner(43, "c"))], repeated: true);
        w.Write(Time, [Row("::", 80, 0, 0, 5, null)], repeated: true);
        Assert.Equal(
            ListenersCsvWriter.Header + "\n" +
            "2026-01-02T03:04:05.678Z,4026531840,127.0.0.1,8080,1,2,1,3,\"42/a,\"\"b\"\" 43/c\",,,,,,\n" +
            "2026-01-02T03:04:05.678Z,4026531840,::,80,0,0,5,,unknown (uid 0; 3 processes not readable: permission denied),,,,,,\n",
            output.ToString());
    }

    [Fact]
    public void The_table_aligns_its_columns_and_a_watch_snapshot_says_when()
    {
        var output = new StringWriter();
        ListenersWriters.Create(ListenersFormat.Table, output).Write(Time,
            [Row("127.0.0.1", 8080, 1, 2, 1, 3, new SocketOwner(42, "srv")), Row("::", 443, 0, 0, 4096, null)], repeated: true);
        Assert.Equal(
            "2026-01-02T03:04:05.678Z  2 listeners\n" +
            "NETNS       LOCAL ADDRESS:PORT  Q0  Q  QMAX  DROPS  OWNERS\n" +
            "4026531840  127.0.0.1:8080       1  2     1      3  42/srv\n" +
            "4026531840  [::]:443             0  0  4096      -  unknown (uid 0; 3 processes not readable: permission denied)\n",
            output.ToString());
    }

    private const string Id = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa99887766554433221100";
    private const string Uid = "2d9e2d38-2b5b-4e4c-9f44-3d6f2a3c1b7e";

    [Fact]
    public void A_listener_in_a_pod_says_so_in_every_format_and_a_host_listener_says_nothing()
    {
        var pod = Row("0.0.0.0", 8080, 0, 0, 128, 0, new SocketOwner(42, "srv")) with { Workload = new(Id, Uid, "web", "web-0", "shop", "nginx") };
        var host = Row("0.0.0.0", 22, 0, 0, 128, 0, new SocketOwner(1, "sshd"));

        var table = new StringWriter();
        ListenersWriters.Create(ListenersFormat.Table, table).Write(Time, [pod, host], repeated: false);
        Assert.Equal(
            "NETNS       LOCAL ADDRESS:PORT  Q0  Q  QMAX  DROPS  WORKLOAD          OWNERS\n" +
            "4026531840  0.0.0.0:8080         0  0   128      0  shop/web-0/nginx  42/srv\n" +
            "4026531840  0.0.0.0:22           0  0   128      0  -                 1/sshd\n",
            table.ToString());

        var csv = new StringWriter();
        ListenersWriters.Create(ListenersFormat.Csv, csv).Write(Time, [pod, host], repeated: false);
        var lines = csv.ToString().Split('\n');
        Assert.EndsWith(",owners,container_id,k8s_pod_uid,container_name,k8s_pod_name,k8s_namespace_name,k8s_container_name", lines[0]);
        Assert.EndsWith($",42/srv,{Id},{Uid},web,web-0,shop,nginx", lines[1]);
        Assert.EndsWith(",1/sshd,,,,,,", lines[2]);

        var json = new StringWriter();
        ListenersWriters.Create(ListenersFormat.Json, json).Write(Time, [pod, host], repeated: false);
        using var doc = JsonDocument.Parse(json.ToString());
        var a = doc.RootElement[0];
        Assert.Equal((Id, Uid, "web", "web-0", "shop", "nginx"), (a.GetProperty("container_id").GetString(), a.GetProperty("k8s_pod_uid").GetString(),
            a.GetProperty("container_name").GetString(), a.GetProperty("k8s_pod_name").GetString(), a.GetProperty("k8s_namespace_name").GetString(), a.GetProperty("k8s_container_name").GetString()));
        Assert.False(doc.RootElement[1].TryGetProperty("container_id", out _));
    }
}
