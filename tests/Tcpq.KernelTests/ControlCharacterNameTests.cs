using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>
/// Any local user can name a process with ESC, CR and a line feed (prctl(PR_SET_NAME)). Such a
/// server, seen through <c>listeners</c>, <c>trace --summary</c> and <c>report</c>: the name is
/// shown escaped, and no raw control character reaches what a person reads; the JSON trace keeps
/// it, escaped the JSON way.
/// </summary>
public class ControlCharacterNameTests
{
    // "ev", ESC "[2J" (clear the screen), "il", CR, LF, "X": 11 bytes, under the kernel's 15
    private const string Shown = "ev\\e[2Jil\\r\\nX";

    private const string Server = """
        import ctypes, socket, sys
        ctypes.CDLL(None).prctl(15, b"ev\x1b[2Jil\r\nX", 0, 0, 0)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(sys.argv[1])))
        s.listen(8)
        print("ready", flush=True)
        for _ in range(3):
            c, _ = s.accept()
            c.close()
        sys.stdin.read()
        """;

    private static void AssertNoRawControl(string text, string what)
    {
        var raw = text.Where(c => c < ' ' && c != '\n').Select(c => $"0x{(int)c:x2}").Distinct().ToList();
        Assert.True(raw.Count == 0, $"{what} holds raw control characters {string.Join(' ', raw)}: {text}");
    }

    [Fact]
    public void A_process_named_with_escape_sequences_is_shown_escaped_in_listeners_summary_and_report()
    {
        using var ns = NetNamespace.Create();
        int port = Ports.Next();
        using var trace = TcpqTrace.Start(["-p", port.ToString(), "-f", "json", "--summary"]);
        var psi = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns.Name, "python3", "-c", Server, port.ToString() }) psi.ArgumentList.Add(a);
        using var server = Process.Start(psi)!;
        try
        {
            Assert.Equal("ready", server.StandardOutput.ReadLine());

            var (code, table, stderr) = TcpqListeners.RunAs(["ip", "netns", "exec", ns.Name]);
            Assert.Equal(0, code);
            Assert.Contains($"{server.Id}/{Shown}", table);
            AssertNoRawControl(table + stderr, "tcpq listeners");

            for (int i = 0; i < 3; i++)
            {
                using var c = ns.Run(() =>
                {
                    var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    s.Connect(new IPEndPoint(IPAddress.Loopback, port));
                    return s;
                });
            }
            trace.WaitFor(rows => rows.Count(r => r.Action == "accept") >= 3, TimeSpan.FromSeconds(15));
        }
        finally
        {
            server.StandardInput.Close();
            if (!server.WaitForExit(10_000)) server.Kill();
        }
        Assert.Equal(0, trace.Stop());

        // trace --summary (on stdout, the rows went to the file)
        Assert.Contains($"by {Shown}[", trace.Stdout);
        AssertNoRawControl(trace.Stdout + string.Join('\n', trace.Stderr), "trace --summary");
        // the JSON rows keep the name, escaped the JSON way
        var json = trace.ReadOutput();
        Assert.Contains("\"comm\":\"ev\\u001B[2Jil\\r\\nX\"", json, StringComparison.OrdinalIgnoreCase);
        AssertNoRawControl(json, "the JSON trace");

        // report of that trace
        var report = Shell.RunWithCode(TcpqBinary.Path, ["report", trace.OutputPath], out int reportCode);
        Assert.Equal(0, reportCode);
        Assert.Contains($"by {Shown}[", report);
        AssertNoRawControl(report, "tcpq report");
    }
}
