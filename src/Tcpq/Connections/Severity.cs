using Tcpq.Events;

namespace Tcpq.Connections;

public enum Severity { Ok, Info, Warning, Critical }
