using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>One finding of the diagnosis: which rule, how bad, and the words (with the numbers
/// behind them and what to change).</summary>
public sealed record Finding(string Rule, Severity Severity, string Port, string Text);
