using Tcpq.Diag;
using Tcpq.Output;

namespace Tcpq.Commands;

public sealed record ListenersOptions(string? NetnsPath, bool AllNetns, double? WatchSeconds, ListenersFormat Format);
