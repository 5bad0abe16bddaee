using Tcpq.Events;

namespace Tcpq.Output;

/// <summary>One output format. Rows go to a buffer; <see cref="Flush"/> hands them to the stream.</summary>
public interface IEventWriter : IDisposable
{
    void WriteHeader();
    void Write(in TcpqEvent e);
    void Flush();
}

/// <summary>Row formats; <c>None</c> writes no rows (for <c>trace --summary</c> alone). The first
/// is the default: the command line leaves it to default(T), so --help shows no capitalised name.</summary>
public enum EventFormat { Csv, Json, Seed, None }

/// <summary>What a row needs besides the event: wall time and reason names.</summary>
public sealed record EventContext(WallClock Clock, DropReasons Reasons);

public static class EventWriters
{
    public static IEventWriter Create(EventFormat format, Stream stream, EventContext context) => format switch
    {
        EventFormat.Csv => new CsvEventWriter(stream, context),
        EventFormat.Json => new JsonEventWriter(stream, context),
        EventFormat.Seed => new SeedEventWriter(stream, context),
        EventFormat.None => new NoEventWriter(),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };
}

/// <summary>Writes nothing: the events still feed --summary and are counted.</summary>
public sealed class NoEventWriter : IEventWriter
{
    public void WriteHeader() { }
    public void Write(in TcpqEvent e) { }
    public void Flush() { }
    public void Dispose() { }
}
