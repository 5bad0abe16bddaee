using System.Runtime.CompilerServices;

namespace Tcpq.Events;

/// <summary>A listening socket as the events see it: namespace, local address and port. The seed
/// format has neither address nor namespace: both are zero (unknown) there.</summary>
public readonly record struct ListenerKey(uint NetNs, Address16 Address, ushort Port)
{
    /// <summary>The address as text, or empty when unknown (all zeros).</summary>
    public string AddressText => Address.IsZero ? "" : Address.ToString();

    // as ConnectionKey's: the address as it lies, the hash seeded per process
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Equals(ListenerKey other) => Port == other.Port && NetNs == other.NetNs && Address.Equals(other.Address);
    public override int GetHashCode() =>
        KeyHash.Finish(KeyHash.Add(KeyHash.Start(Address.Last8), Address.First8 ^ ((ulong)NetNs << 32 | Port)));
}
