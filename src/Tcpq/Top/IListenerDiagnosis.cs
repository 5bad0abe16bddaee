using Tcpq.Connections;
using Tcpq.Events;

namespace Tcpq.Top;

/// <summary>The seam between the live view and the diagnosis: each listener's most severe finding
/// now, none where no rule fires. Fed from an event stream, it is <see cref="TrackerDiagnosis"/>
/// (the rules on the connections tracked since top began); a kernel-aggregate source would build
/// the <see cref="PortSummary"/> the rules read from its counters instead.</summary>
public interface IListenerDiagnosis
{
    IReadOnlyDictionary<ListenerKey, Finding> TopFindings();
}
