using Tcpq.Connections;

namespace Tcpq.Output;

public enum SummaryFormat { Text, Json }
