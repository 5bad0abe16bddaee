using System.Buffers.Text;
using System.Text;
using Tcpq.Events;

namespace Tcpq.Report;

/// <summary>Turns the Reason column back into values: tcpq's own names into the
/// <see cref="DropReasons"/> constants, a bare number into itself, and each kernel name
/// (TCP_LISTEN_OVERFLOW…) into a value of its own, numbered as first met — the numbers of the
/// kernel that wrote the file are not in it, and are not needed: only the names are printed.</summary>
public sealed class ReasonNames
{
    // far above any kernel's enum skb_drop_reason, below tcpq's own values
    private const uint FirstNamed = 0x8000;
    private readonly Dictionary<string, uint> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<uint, string> _names = [];

    public uint Parse(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty) return 0;
        if (DropReasons.TryParseOwn(name, out uint own)) return own;
        if (Utf8Parser.TryParse(name, out uint number, out int used) && used == name.Length) return number;
        var text = Encoding.UTF8.GetString(name);
        if (_byName.TryGetValue(text, out uint value)) return value;
        if (_byName.Count >= 4096)
            throw new TcpqException(ExitCode.BadInput, "more than 4096 different reason names: not a tcpq trace");
        value = FirstNamed + (uint)_byName.Count;
        _byName.Add(text, value);
        _names.Add(value, text);
        return value;
    }

    /// <summary>The names met so far, as the writers and the summary use them.</summary>
    public DropReasons ToDropReasons() => new(_names);
}
