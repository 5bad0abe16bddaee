using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Tests;

/// <summary>The tracker's keys compare every field and hash equal keys alike (their own members,
/// not the record's: see ConnectionKey).</summary>
public class ConnectionKeyTests
{
    private static Address16 A(string text)
    {
        var e = new TcpqEvent();
        TestEvents.SetAddress(ref e.SourceAddress, text);
        return e.SourceAddress;
    }

    private static readonly ConnectionKey Key = new(4026531840, A("10.0.0.9"), 40000, A("10.0.0.1"), 80);

    public static TheoryData<string> Changes => ["netns", "source", "source port", "dest", "dest port", "source v6", "dest v6"];

    private static ConnectionKey Changed(string change) => change switch
    {
        "netns" => Key with { NetNs = 4026531841 },
        "source" => Key with { Source = A("10.0.0.8") },
        "source port" => Key with { SourcePort = 40001 },
        "dest" => Key with { Dest = A("10.0.0.2") },
        "dest port" => Key with { DestPort = 81 },
        "source v6" => Key with { Source = A("fe80::a00:9") },
        "dest v6" => Key with { Dest = A("2001:db8::10.0.0.1") },
        _ => throw new ArgumentException(change),
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void Keys_that_differ_in_any_field_differ(string change)
    {
        var other = Changed(change);
        Assert.False(Key.Equals(other));
        Assert.False(other.Equals(Key));
        Assert.NotEqual(Key.Listener.Equals(other.Listener), change is "netns" or "dest" or "dest port" or "dest v6");
    }

    [Fact]
    public void Equal_keys_are_equal_and_hash_alike_however_they_were_made()
    {
        var e = new TcpqEvent { NetNs = 4026531840, SourcePort = 40000, DestPort = 80 };
        TestEvents.SetAddress(ref e.SourceAddress, "10.0.0.9");
        TestEvents.SetAddress(ref e.DestAddress, "10.0.0.1");
        var made = ConnectionKey.Of(e);

        Assert.Equal(Key, made);
        Assert.Equal(Key.GetHashCode(), made.GetHashCode());
        Assert.Equal(Key.Listener, made.Listener);
        Assert.Equal(Key.Listener.GetHashCode(), made.Listener.GetHashCode());
    }

    [Fact]
    public void Many_keys_of_one_client_address_spread_over_the_hash()
    {
        // one client, every port: a dictionary of them must not fall into a few buckets
        var hashes = new HashSet<int>();
        for (int port = 1024; port < 65536; port++) hashes.Add((Key with { SourcePort = (ushort)port }).GetHashCode());
        Assert.True(hashes.Count > 64000, $"{hashes.Count} distinct hashes of 64,512 keys");
    }
}
