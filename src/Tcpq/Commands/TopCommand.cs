using Spectre.Console;
using Tcpq.Events;
using Tcpq.Top;

namespace Tcpq.Commands;

/// <summary><c>tcpq top</c>: in a terminal, the live view, redrawn in place and driven by keys;
/// into a pipe or a file, a plain snapshot per interval, ending with 0 when the reader goes away.
/// Either way until q, Ctrl-C, SIGTERM, --duration or --iterations, every program detached.</summary>
public sealed class TopCommand(TopOptions options, CommandConsole console)
{
    public int Run()
    {
        using var lifetime = new CommandLifetime(options.DurationSeconds);
        using var source = TopSources.Open(options);
        var session = new TopSession(options, source, SystemLoopClock.Instance, lifetime.Token);
        if (console.OutIsTerminal)
        {
            session.RunLive(LiveConsole(), keys: !Console.IsInputRedirected);
            return (int)ExitCode.Ok;
        }
        var stdout = new StreamWriter(console.Out, new System.Text.UTF8Encoding(false), 64 * 1024, leaveOpen: true);
        console.Error.WriteLine($"tcpq: top of {PortList.Text(options.Ports)} every {options.Interval.TotalSeconds:0.###} s; Ctrl-C to stop");
        CommandLifetime.UntilReaderGoes(() => session.RunBatch(stdout));
        return (int)ExitCode.Ok;
    }

    /// <summary>Spectre.Console on the process's terminal: its size and colours as the terminal says.</summary>
    private static IAnsiConsole LiveConsole() => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Ansi = AnsiSupport.Detect,
        ColorSystem = ColorSystemSupport.Detect,
        Interactive = InteractionSupport.Yes,
        Out = new AnsiConsoleOutput(Console.Out),
    });
}
