using Tcpq.Events;

namespace Tcpq.Output;

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
