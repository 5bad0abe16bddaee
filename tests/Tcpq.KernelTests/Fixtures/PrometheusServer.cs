using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Tcpq.KernelTests.Fixtures;

/// <summary>Debian's Prometheus (scripts/setup --test installs it), started with a config of its
/// own and a temporary storage folder, scraping one target every second on loopback; deleted on dispose.</summary>
public sealed class PrometheusServer : IDisposable
{
    private readonly Process _process;
    private readonly string _dir;
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public string Address { get; }

    private PrometheusServer(Process process, string dir, string address)
    {
        _process = process;
        _dir = dir;
        Address = address;
    }

    /// <param name="features">--enable-feature values, e.g. exemplar-storage.</param>
    public static PrometheusServer Start(string target, params string[] features)
    {
        string binary = File.Exists("/usr/bin/prometheus") ? "/usr/bin/prometheus"
            : throw new InvalidOperationException("kernel tests need Prometheus (apt-get install prometheus; scripts/setup --test does)");
        var dir = Directory.CreateTempSubdirectory("tcpq-prometheus-").FullName;
        File.WriteAllText(Path.Combine(dir, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: tcpq
                static_configs:
                  - targets: ["{target}"]
            """);
        string address = $"127.0.0.1:{FreePort()}";
        var psi = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { $"--config.file={dir}/prometheus.yml", $"--storage.tsdb.path={dir}/data", $"--web.listen-address={address}", "--log.level=warn" })
            psi.ArgumentList.Add(a);
        foreach (var f in features) psi.ArgumentList.Add($"--enable-feature={f}");
        var p = Process.Start(psi)!;
        p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEndAsync();
        var server = new PrometheusServer(p, dir, address);
        var sw = Stopwatch.StartNew();
        while (!server.Ready())
        {
            if (p.HasExited || sw.Elapsed > TimeSpan.FromSeconds(30))
            {
                server.Dispose();
                throw new InvalidOperationException($"prometheus did not become ready on {address}");
            }
            Thread.Sleep(100);
        }
        return server;
    }

    private bool Ready()
    {
        try { return Http.GetAsync($"http://{Address}/-/ready").GetAwaiter().GetResult().IsSuccessStatusCode; }
        catch (HttpRequestException) { return false; }
    }

    private static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>An instant query through the HTTP API: the value of its single result, or null when it has none.</summary>
    public double? Query(string promql)
    {
        var json = Http.GetStringAsync($"http://{Address}/api/v1/query?query={Uri.EscapeDataString(promql)}").GetAwaiter().GetResult();
        using var doc = JsonDocument.Parse(json);
        var result = doc.RootElement.GetProperty("data").GetProperty("result");
        if (result.GetArrayLength() == 0) return null;
        return double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Queries until the answer is <paramref name="expected"/> or the timeout passes; the last answer.</summary>
    public double? QueryUntil(string promql, double expected, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var v = Query(promql);
            if (v == expected || sw.Elapsed > timeout) return v;
            Thread.Sleep(250);
        }
    }

    /// <summary>The exemplars stored for a selector over the last 10 minutes (query_exemplars):
    /// each one's series labels, its own labels and value.</summary>
    public List<(Dictionary<string, string> Series, Dictionary<string, string> Labels, double Value)> QueryExemplars(string selector)
    {
        double now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        var url = $"http://{Address}/api/v1/query_exemplars?query={Uri.EscapeDataString(selector)}" +
            $"&start={(now - 600).ToString(System.Globalization.CultureInfo.InvariantCulture)}&end={(now + 60).ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        using var doc = JsonDocument.Parse(Http.GetStringAsync(url).GetAwaiter().GetResult());
        var found = new List<(Dictionary<string, string>, Dictionary<string, string>, double)>();
        foreach (var series in doc.RootElement.GetProperty("data").EnumerateArray())
        {
            var seriesLabels = series.GetProperty("seriesLabels").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
            foreach (var e in series.GetProperty("exemplars").EnumerateArray())
                found.Add((seriesLabels, e.GetProperty("labels").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!),
                    double.Parse(e.GetProperty("value").GetString()!, System.Globalization.CultureInfo.InvariantCulture)));
        }
        return found;
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(10_000); } } catch (InvalidOperationException) { }
        _process.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
