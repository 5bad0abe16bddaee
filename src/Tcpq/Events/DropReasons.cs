using System.Text;

namespace Tcpq.Events;

/// <summary>Names for the Reason column: tcpq's own findings, and the running kernel's
/// <c>enum skb_drop_reason</c>, named from its BTF (the numbers differ between kernels).</summary>
public sealed class DropReasons
{
    public const uint TcpqBase = 0x10000;
    public const uint AcceptQueueFull = TcpqBase + 1;
    public const uint SynQueueFull = TcpqBase + 2;
    public const uint PeerReset = TcpqBase + 3;
    public const uint PeerClosed = TcpqBase + 4;
    public const uint CookieAckOverflow = TcpqBase + 5;
    public const uint ListenDrop = TcpqBase + 6;
    public const uint ChildDiscarded = TcpqBase + 7;
    // app rows (Dotnet/): why Kestrel refused a connection, why the thread pool added a thread
    public const uint ConnectionLimit = TcpqBase + 8;
    public const uint Starvation = TcpqBase + 9;
    public const uint CooperativeBlocking = TcpqBase + 10;
    /// <summary>Still in the accept queue when its listener closed: the server's kernel reset it.</summary>
    public const uint ListenerClosed = TcpqBase + 11;

    /// <summary>tcpq's own reasons and their names: the one table the writers and the readers use.</summary>
    private static readonly (uint Value, byte[] Name)[] Own =
    [
        (AcceptQueueFull, "accept-queue-full"u8.ToArray()),
        (SynQueueFull, "syn-queue-full"u8.ToArray()),
        (PeerReset, "peer-reset"u8.ToArray()),
        (PeerClosed, "peer-closed"u8.ToArray()),
        (CookieAckOverflow, "cookie-ack-overflow"u8.ToArray()),
        (ListenDrop, "listen-drop"u8.ToArray()),
        (ChildDiscarded, "child-discarded"u8.ToArray()),
        (ConnectionLimit, "connection-limit"u8.ToArray()),
        (Starvation, "starvation"u8.ToArray()),
        (CooperativeBlocking, "cooperative-blocking"u8.ToArray()),
        (ListenerClosed, "listener-closed"u8.ToArray()),
    ];

    private readonly Dictionary<uint, byte[]> _kernel;

    public DropReasons(IReadOnlyDictionary<uint, string> kernelNames)
    {
        _kernel = new Dictionary<uint, byte[]>(kernelNames.Count);
        foreach (var (value, name) in kernelNames)
            _kernel[value] = Encoding.UTF8.GetBytes(name.StartsWith("SKB_DROP_REASON_", StringComparison.Ordinal) ? name["SKB_DROP_REASON_".Length..] : name);
    }

    public static DropReasons Empty { get; } = new(new Dictionary<uint, string>());

    /// <summary>The name, or empty for "no reason". An unknown kernel value prints as its number.</summary>
    public ReadOnlySpan<byte> Utf8Name(uint reason, Span<byte> scratch)
    {
        if (reason == 0) return default;
        if (reason > TcpqBase)
            foreach (var (value, own) in Own)
                if (value == reason) return own;
        if (_kernel.TryGetValue(reason, out var name)) return name;
        System.Buffers.Text.Utf8Formatter.TryFormat(reason, scratch, out int n);
        return scratch[..n];
    }

    /// <summary>One of tcpq's own names (<c>accept-queue-full</c>…) back into its value.</summary>
    public static bool TryParseOwn(ReadOnlySpan<byte> name, out uint value)
    {
        foreach (var (v, n) in Own)
            if (name.SequenceEqual(n)) { value = v; return true; }
        value = 0;
        return false;
    }

    public string Name(uint reason)
    {
        Span<byte> scratch = stackalloc byte[16];
        return Encoding.UTF8.GetString(Utf8Name(reason, scratch));
    }
}
