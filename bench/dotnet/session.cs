#:project ../../src/Tcpq/Tcpq.csproj
#:property PublishAot=false
// bench/dotnet/session.cs PID [--request-spans]: one EventPipe session in the .NET process PID,
// exactly as tcpq's --dotnet opens it (AppSession: thread pool, GC pauses, Kestrel's refusals,
// counters), with or without the request spans (the DiagnosticSource bridge's HttpRequestIn.Start,
// RequestSpanDecoder), until SIGTERM or Ctrl-C; then what the session brought, on stderr.
// bench/dotnet/cost.py runs it for its "links" phases: trace's flag for spans is another branch's,
// and this measures the session alone. Also what tells whether a process's request spans can be
// joined at all: "unconnected" counts requests whose connection the bridge could not read.
using Tcpq.Connections;
using Tcpq.Dotnet;
using Tcpq.Events;

int pid = int.Parse(args[0]);
bool spans = args.Contains("--request-spans");
var p = DotnetProcess.Read(pid) ?? throw new InvalidOperationException($"no process {pid}");
var links = new Counted();
var decoder = spans ? new RequestSpanDecoder(p, links) : null;
var rows = new Counted();
using var stop = new CancellationTokenSource();
// SIGTERM and SIGINT end the wait, not the process: the session stops and the counts are said
using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
using var interrupt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
using (AppSession.Start(p, new AppEventDecoder(p, rows), AppDepth.Process, decoder))
{
    Console.Error.WriteLine($"session: joined {p.Comm}[{pid}]{(spans ? " with request spans" : "")}");
    stop.Token.WaitHandle.WaitOne();
}
Console.Error.WriteLine($"session: {rows.N} rows; request spans {decoder?.Links ?? 0} joined, {decoder?.Unconnected ?? 0} unconnected, {decoder?.Untraced ?? 0} untraced");

sealed class Counted : IEventSink, IRequestLinkSink
{
    public long N;
    public void OnEvent(in TcpqEvent e) => Interlocked.Increment(ref N);
    public void OnRequestLink(in RequestLink link) => Interlocked.Increment(ref N);
}
