using System.Text;
using Tcpq.Commands;
using Tcpq.Events;

namespace Tcpq.Tests;

/// <summary>A command's standard streams in memory: what a user would have seen, exactly.</summary>
internal sealed class TestConsole
{
    private readonly MemoryStream _out = new(), _err = new();

    public TestConsole(string? input = null, bool terminal = false) =>
        Console = new CommandConsole(_out, _err, terminal, terminal, () => new MemoryStream(Encoding.UTF8.GetBytes(input ?? "")));

    public CommandConsole Console { get; }
    public string Out => Encoding.UTF8.GetString(_out.ToArray());
    public string Error
    {
        get
        {
            Console.Error.Flush();
            return Encoding.UTF8.GetString(_err.ToArray());
        }
    }
}

/// <summary>Keeps every event it receives.</summary>
internal sealed class CollectingSink : IEventSink
{
    public List<TcpqEvent> Events { get; } = [];
    public void OnEvent(in TcpqEvent e) => Events.Add(e);
}
