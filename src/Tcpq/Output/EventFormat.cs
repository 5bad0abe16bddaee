using Tcpq.Events;

namespace Tcpq.Output;

/// <summary>Row formats; <c>None</c> writes no rows (for <c>trace --summary</c> alone). The first
/// is the default: the command line leaves it to default(T), so --help shows no capitalised name.</summary>
public enum EventFormat { Csv, Json, Seed, None }
