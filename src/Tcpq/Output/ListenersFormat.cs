using Tcpq.Diag;

namespace Tcpq.Output;

public enum ListenersFormat { Table, Csv, Json }
