using Tcpq.Aggregates;
using Tcpq.Connections;
using Tcpq.Connections.Diagnosis;
using Tcpq.Events;

namespace Tcpq.Top;

/// <summary>The diagnosis on a source that has no connection stream (the kernel's aggregates): each
/// listener's aggregates since top began become a <see cref="PortSummary"/>, with the .NET process
/// behind it when the snapshot has one (--dotnet: for thread-pool-starvation and
/// kestrel-connection-limit), and the same rules run on it. The share of time a queue was full is
/// the share of top's readings that found it full.</summary>
public sealed class AggregateDiagnosis(DropReasons reasons, DiagnosisContext context) : IListenerDiagnosis
{
    private readonly DateTime _start = DateTime.UtcNow;
    private readonly Dictionary<ListenerKey, (long Readings, long Full)> _fullness = [];
    private IReadOnlyList<ListenerAggregate> _latest = [];
    private IReadOnlyList<AppReading> _apps = [];

    /// <summary>Called with every reading top takes.</summary>
    public void Observe(AggregateSnapshot snapshot)
    {
        _latest = snapshot.Listeners;
        _apps = snapshot.Apps;
        foreach (var a in snapshot.Listeners)
        {
            var (n, full) = _fullness.GetValueOrDefault(a.Key);
            _fullness[a.Key] = (n + 1, full + (a.QMax > 0 && a.Q >= a.QMax ? 1 : 0));
        }
    }

    public IReadOnlyDictionary<ListenerKey, Finding> TopFindings()
    {
        double span = (DateTime.UtcNow - _start).TotalSeconds;
        var findings = new Dictionary<ListenerKey, Finding>();
        foreach (var a in _latest)
        {
            var (n, full) = _fullness.GetValueOrDefault(a.Key);
            var port = AggregatePortSummary.Build(a, reasons, span, n == 0 ? 0 : (double)full / n);
            if (_apps.FirstOrDefault(app => app.Owns(a.Key))?.Summary is { } app) port = port with { Dotnet = app };
            var worst = Rulebook.Diagnose([port], context)[0];
            if (worst.Severity > Severity.Info) findings[a.Key] = worst;
        }
        return findings;
    }
}

/// <summary>A source whose every reading is also shown to an observer (the diagnosis, which counts
/// how often each queue was found full).</summary>
internal sealed class ObservedAggregateSource(IAggregateSource inner, Action<AggregateSnapshot> observe) : IAggregateSource
{
    public DropReasons Reasons => inner.Reasons;

    public AggregateSnapshot Read()
    {
        var snapshot = inner.Read();
        observe(snapshot);
        return snapshot;
    }

    public void Dispose() => inner.Dispose();
}
