namespace Tcpq.Events;

/// <summary>A listening socket as the events see it: namespace, local address and port. The seed
/// format has neither address nor namespace: both are zero (unknown) there.</summary>
public readonly record struct ListenerKey(uint NetNs, Address16 Address, ushort Port)
{
    /// <summary>The address as text, or empty when unknown (all zeros).</summary>
    public string AddressText => Address.IsZero ? "" : Address.ToString();
}
