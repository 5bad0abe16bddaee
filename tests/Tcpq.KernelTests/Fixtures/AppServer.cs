using System.Diagnostics;
using System.Text.Json;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>
/// A test server from Servers/ (appserver.py in one of its modes, or the io_uring server built from
/// uring_server.c) running in a namespace, and what it recorded per connection: the client's port,
/// the bytes it read and wrote, who closed first.
/// </summary>
public sealed class AppServer : IDisposable
{
    public sealed record Record(int Port, long BytesIn, long BytesOut, string[] Events, string Closer);

    private readonly Process _process;
    private readonly string _record;

    public static string Script => Path.Combine(AppContext.BaseDirectory, "Servers", "appserver.py");

    private AppServer(Process process, string record)
    {
        _process = process;
        _record = record;
    }

    /// <summary>appserver.py serve MODE PORT RECORD N DELAY, once it listens.</summary>
    public static AppServer Python(NetNamespace ns, string mode, int port, int connections, double delaySeconds = 0) =>
        Start(ns, ["python3", Script, "serve", mode, port.ToString(), "{record}", connections.ToString(), delaySeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

    /// <summary>The io_uring server, compiled here against liburing (scripts/setup --test installs liburing-dev).</summary>
    public static AppServer Uring(NetNamespace ns, int port, int connections) =>
        Start(ns, [UringServerBuild.Path, port.ToString(), "{record}", connections.ToString()]);

    private static AppServer Start(NetNamespace ns, string[] command)
    {
        string record = Path.Combine(Path.GetTempPath(), $"tcpq-app-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(record, "");
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", ns.Name }.Concat(command.Select(c => c == "{record}" ? record : c))) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var line = p.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(10)) || line.Result != "listening")
        {
            try { p.Kill(true); } catch (InvalidOperationException) { }
            throw new InvalidOperationException($"{string.Join(' ', command)} did not listen: {p.StandardError.ReadToEnd()}");
        }
        return new AppServer(p, record);
    }

    /// <summary>appserver.py's client: N connections one after another, each sending
    /// <paramref name="requestBytes"/> after <paramref name="pauseSeconds"/> (or at once), reading the answer, closing;
    /// <paramref name="untilEof"/>: the client reads until the server closes, so the server closes first.</summary>
    public static void Client(NetNamespace ns, int port, int connections, int requestBytes, double pauseSeconds = 0, bool sendAtOnce = false, bool untilEof = false) =>
        Shell.Run("timeout", ["60", "ip", "netns", "exec", ns.Name, "python3", Script, "client", port.ToString(), connections.ToString(),
            requestBytes.ToString(), pauseSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), .. sendAtOnce ? new[] { "--send-at-once" } : [], .. untilEof ? new[] { "--until-eof" } : []]);

    /// <summary>Waits for the server to serve all its connections and exit; its records.</summary>
    public List<Record> Finish()
    {
        if (!_process.WaitForExit(TimeSpan.FromSeconds(60))) throw new TimeoutException("the test server did not finish");
        Assert.True(_process.ExitCode == 0, $"test server exited {_process.ExitCode}: {_process.StandardError.ReadToEnd()}");
        var opts = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        return [.. File.ReadAllLines(_record).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<Record>(l, opts)!)];
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) _process.Kill(true); } catch (InvalidOperationException) { }
        _process.Dispose();
        try { File.Delete(_record); } catch (IOException) { }
    }
}
