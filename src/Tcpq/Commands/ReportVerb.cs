using System.CommandLine;
using Tcpq.Output;

namespace Tcpq.Commands;

/// <summary>The command line of <c>tcpq report</c>, kept apart from the work.</summary>
public static class ReportVerb
{
    public static Command Build(CommandConsole console)
    {
        var file = new Argument<string>("FILE") { Description = "A trace saved by tcpq trace (csv, json or seed), or - for standard input" };
        var format = EnumOption.Create<SummaryFormat>("--format", "-f", "text (default, for people) or json");
        var lenient = new Option<bool>("--lenient") { Description = "At a bad line, stop there and report the rows before it instead of failing" };
        var report = new Command("report", "Summarise a saved trace per listening port: where each connection's time went, the slowest ones, and a diagnosis")
        {
            file, format, lenient,
        };
        report.SetAction(parse => new ReportCommand(
            new ReportOptions(parse.GetValue(file)!, parse.GetValue(format), parse.GetValue(lenient)), console).Run());
        return report;
    }
}
