using Tcpq.Connections;
using System.Globalization;

namespace Tcpq.Connections.Diagnosis;

/// <summary>One rule of the diagnosis: looks at a port's summary, says what is wrong and what to
/// change, or nothing. Each rule is described in docs/diagnosis.md.</summary>
public interface IDiagnosisRule
{
    string Name { get; }
    Finding? Check(PortSummary port, DiagnosisContext context);
}
