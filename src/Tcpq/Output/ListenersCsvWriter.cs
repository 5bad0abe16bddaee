using System.Globalization;
using System.Text;
using Tcpq.Diag;

namespace Tcpq.Output;

/// <summary>One row per listener with the snapshot's time first, so --watch output appends cleanly.
/// The header is written once.</summary>
public sealed class ListenersCsvWriter(TextWriter output) : IListenersWriter
{
    public const string Header = "time,netns,local_address,local_port,q0,q,qmax,drops,owners";

    private bool _headerWritten;

    public void Write(DateTime time, IReadOnlyList<ListenerQueue> rows, bool repeated)
    {
        var sb = new StringBuilder();
        if (!_headerWritten) sb.Append(Header).Append('\n');
        _headerWritten = true;
        string t = ListenersWriters.Time(time);
        foreach (var l in rows)
        {
            sb.Append(t).Append(',')
              .Append(l.NetNs.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(l.LocalAddressText).Append(',')
              .Append(l.LocalPort.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(l.Q0.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(l.Q.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(l.QMax.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(l.Drops?.ToString(CultureInfo.InvariantCulture) ?? "").Append(',')
              .Append(CsvText.Quote(ListenersWriters.OwnersText(l))).Append('\n');
        }
        output.Write(sb.ToString());
        output.Flush();
    }
}
