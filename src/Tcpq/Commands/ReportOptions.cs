using Tcpq.Output;
using Tcpq.Report;

namespace Tcpq.Commands;

public sealed record ReportOptions(string Path, SummaryFormat Format, bool Lenient);
