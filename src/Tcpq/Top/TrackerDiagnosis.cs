using Tcpq.Connections;
using Tcpq.Connections.Diagnosis;
using Tcpq.Events;

namespace Tcpq.Top;

/// <summary>The diagnosis of <c>trace --summary</c>, on the connections followed since top began:
/// the same rules and words, the top finding per listener.</summary>
public sealed class TrackerDiagnosis(ConnectionTracker tracker, DropReasons reasons, DiagnosisContext context) : IListenerDiagnosis
{
    public IReadOnlyDictionary<ListenerKey, Finding> TopFindings()
    {
        var keys = new Dictionary<(uint, string, ushort), ListenerKey>();
        foreach (var l in tracker.Listeners)
            if (!l.IsOverflow) keys[(l.Key.NetNs, l.Key.AddressText, l.Key.Port)] = l.Key;

        var findings = new Dictionary<ListenerKey, Finding>();
        foreach (var port in TraceSummary.Build("top", tracker, reasons, context).Ports)
        {
            if (port.IsOther || !keys.TryGetValue((port.NetNs, port.Address, port.Port), out var key)) continue;
            var worst = Rulebook.Diagnose([port], context)[0];
            if (worst.Severity > Severity.Info) findings[key] = worst;
        }
        return findings;
    }
}
