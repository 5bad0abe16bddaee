using System.Globalization;
using Tcpq.Events;

namespace Tcpq.Report;

/// <summary>
/// Values a row of a real trace cannot hold, checked as the rows stream by (nothing is kept but
/// the first and latest timestamps): a wait or data age longer than the trace up to that row (it
/// began before tracing did: the kernel side times only what it saw), and a timestamp far behind
/// one above it. Rows from the kernel's ring buffer come in order within milliseconds; a minute
/// back is not reordering, it is another file pasted in or a clock that is not the kernel's.
/// A row out of range is a bad line (exit 9), or where <c>--lenient</c> stops reading.
/// </summary>
internal sealed class RowRanges
{
    /// <summary>How much longer than the trace so far a wait may be: a row's own wait may start
    /// just before the first row was written (the first event's own row lost, a .NET session begun first).</summary>
    public static readonly ulong SlackNs = 1_000_000_000;
    /// <summary>How far back a timestamp may go behind the latest above it.</summary>
    public static readonly ulong OutOfOrderNs = 60_000_000_000;

    private ulong _first = ulong.MaxValue, _latest;

    public void Check(in TcpqEvent e, bool json)
    {
        if (_first != ulong.MaxValue && e.TsNs + OutOfOrderNs < _latest)
            throw new RowException($"{(json ? "ts" : "TS")} {e.TsNs} is {Seconds(_latest - e.TsNs)} before a row above it: out of order, not one trace");
        _first = Math.Min(_first, e.TsNs);
        _latest = Math.Max(_latest, e.TsNs);
        ulong span = e.TsNs - _first;
        if (e.Has(EventFlags.Wait) && e.WaitNs > span + SlackNs)
            throw OutOfRange(json ? "wait_us" : "Wait us", e.WaitNs, span);
        if (e.Has(EventFlags.DataAge) && e.DataAgeNs > span + SlackNs)
            throw OutOfRange(json ? "data_age_us" : "Data Age us", e.DataAgeNs, span);
    }

    private static RowException OutOfRange(string column, ulong ns, ulong span) =>
        new($"{column} {ns / 1000} is out of range: longer than the trace up to this row ({Seconds(span)})");

    private static string Seconds(ulong ns) => (ns / 1e9).ToString("0.###", CultureInfo.InvariantCulture) + " s";
}
