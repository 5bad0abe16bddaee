using Tcpq.Events;

namespace Tcpq.Connections;

public sealed record SlowLine(SlowConnection Connection, string Text);
