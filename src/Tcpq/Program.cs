using System.CommandLine;
using Tcpq;
using Tcpq.Commands;

return TcpqProgram.Run(args, CommandConsole.System());

/// <summary>Builds the command tree and maps every error to one line and an exit code.</summary>
internal static class TcpqProgram
{
    private const string ExitCodesHelp = """
        Exit codes:
          0 ok    1 unexpected failure   2 usage (unknown flag, bad value)   3 bad port
          4 no permission (need root or CAP_BPF+CAP_PERFMON+CAP_NET_ADMIN)   5 no BTF
          6 no cgroup v2   7 missing tracepoint   8 unsupported kernel   9 bad input file (corrupt, out of range)
          10 libbpf not installed   11 input file missing or unreadable   12 bad --web-config file
          13 bad OTLP endpoint, protocol or headers
        """;

    public static int Run(string[] args, CommandConsole console)
    {
        try
        {
            var parse = Build(console).Parse(args);
            if (parse.Errors.Count > 0)
            {
                console.Error.WriteLine($"tcpq: {parse.Errors[0].Message} (see tcpq --help)");
                return (int)ExitCode.Usage;
            }
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = console.OutText, Error = console.Error });
        }
        catch (IOException e) when (CommandLifetime.IsBrokenPipe(e))
        {
            return (int)ExitCode.Ok; // the reader of our output went away (tcpq --help | head): a normal end
        }
        catch (TcpqException e)
        {
            console.Error.WriteLine($"tcpq: {e.Message}");
            return (int)e.Code;
        }
        catch (Exception e)
        {
            // a bug or an unforeseen system error: still one line, never a stack trace
            console.Error.WriteLine($"tcpq: unexpected error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
            return (int)ExitCode.Failure;
        }
    }

    internal static RootCommand Build(CommandConsole console)
    {
        var root = new RootCommand(
            "tcpq follows incoming TCP connections from the SYN through the kernel's queues to accept(), and says where the time went.\n\n" + ExitCodesHelp);
        root.Subcommands.Add(TraceVerb.Build(console));
        root.Subcommands.Add(ListenersVerb.Build(console));
        root.Subcommands.Add(ReportVerb.Build(console));
        root.Subcommands.Add(TopVerb.Build(console));
        root.Subcommands.Add(ServeVerb.Build(console));
        return root;
    }
}
