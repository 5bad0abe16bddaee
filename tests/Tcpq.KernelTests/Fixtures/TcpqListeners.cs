using System.Text.Json;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>One row of <c>tcpq listeners --format json</c>.</summary>
public sealed record ListenerRow(uint NetNs, string LocalAddress, int LocalPort, int Q0, int Q, int QMax, long? Drops,
    IReadOnlyList<(int Pid, string Comm)> Owners, string? OwnersUnknown)
{
    public override string ToString() =>
        $"{LocalAddress}:{LocalPort} q0={Q0} q={Q} qmax={QMax} drops={Drops} owners={string.Join(' ', Owners)} {OwnersUnknown} netns={NetNs}";
}

/// <summary>Runs the built <c>tcpq listeners</c> to completion.</summary>
public static class TcpqListeners
{
    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args) => RunAs(null, args);

    /// <summary>Runs it with <paramref name="prefix"/> in front (e.g. <c>ip netns exec NAME setpriv ...</c>).</summary>
    public static (int ExitCode, string Stdout, string Stderr) RunAs(string[]? prefix, params string[] args)
    {
        // as another user (setpriv), a copy that user can read
        string binary = prefix?.Contains("setpriv") == true ? UnprivilegedCopy.Binary : TcpqTrace.Binary;
        string[] command = [.. prefix ?? [], binary, "listeners", .. args];
        var psi = new System.Diagnostics.ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = "/tmp";
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            p.Kill(true);
            throw new TimeoutException($"tcpq listeners {string.Join(' ', args)} did not finish in 30 s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public static List<ListenerRow> Json(params string[] args) => ParseJson(Checked(Run([.. args, "--format", "json"])));

    public static string Checked((int ExitCode, string Stdout, string Stderr) r) =>
        r.ExitCode == 0 ? r.Stdout : throw new InvalidOperationException($"tcpq listeners exited {r.ExitCode}: {r.Stderr.Trim()}");

    public static List<ListenerRow> ParseJson(string text)
    {
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.EnumerateArray().Select(r => new ListenerRow(
            r.GetProperty("netns").GetUInt32(),
            r.GetProperty("local_address").GetString()!,
            r.GetProperty("local_port").GetInt32(),
            r.GetProperty("q0").GetInt32(),
            r.GetProperty("q").GetInt32(),
            r.GetProperty("qmax").GetInt32(),
            r.GetProperty("drops").ValueKind == JsonValueKind.Null ? null : r.GetProperty("drops").GetInt64(),
            r.GetProperty("owners").EnumerateArray().Select(o => (o.GetProperty("pid").GetInt32(), o.GetProperty("comm").GetString()!)).ToList(),
            r.GetProperty("owners_unknown").GetString())).ToList();
    }
}
