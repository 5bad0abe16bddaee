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
        switch (reason)
        {
            case 0: return default;
            case AcceptQueueFull: return "accept-queue-full"u8;
            case SynQueueFull: return "syn-queue-full"u8;
            case PeerReset: return "peer-reset"u8;
            case PeerClosed: return "peer-closed"u8;
        }
        if (_kernel.TryGetValue(reason, out var name)) return name;
        System.Buffers.Text.Utf8Formatter.TryFormat(reason, scratch, out int n);
        return scratch[..n];
    }

    public string Name(uint reason)
    {
        Span<byte> scratch = stackalloc byte[16];
        return Encoding.UTF8.GetString(Utf8Name(reason, scratch));
    }
}
