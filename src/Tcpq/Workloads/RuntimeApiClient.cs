using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tcpq.Events;

namespace Tcpq.Workloads;

/// <summary>
/// The Docker-compatible API that docker and podman both serve on a unix socket: one
/// <c>GET /containers/json?all=true</c> lists every container, stopped ones too, with its name
/// and labels. Kubelet's labels on a container (<c>io.kubernetes.pod.name</c>,
/// <c>io.kubernetes.pod.namespace</c>, <c>io.kubernetes.container.name</c>,
/// <c>io.kubernetes.pod.uid</c>) become the Kubernetes names. HttpClient over the socket
/// (SocketsHttpHandler.ConnectCallback), System.Text.Json with source generation (Native AOT).
/// </summary>
public sealed class RuntimeApiClient : IDisposable
{
    /// <summary>Where docker and podman (rootful) serve it, tried in this order.</summary>
    public static readonly string[] DefaultSockets = ["/var/run/docker.sock", "/run/podman/podman.sock"];
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);
    /// <summary>A node with more containers than this is listed up to it (the response is read whole).</summary>
    private const long MaxResponseBytes = 64L * 1024 * 1024;

    private readonly HttpClient _http;

    public string SocketPath { get; }

    public RuntimeApiClient(string socketPath)
    {
        SocketPath = socketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), token).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            UseProxy = false,
        };
        _http = new HttpClient(handler) { Timeout = Timeout, MaxResponseContentBufferSize = MaxResponseBytes };
    }

    /// <summary>Every container by id, with what its name and labels say; throws
    /// <see cref="RuntimeApiException"/> with one line when the API cannot be asked.</summary>
    public Dictionary<string, Workload> List()
    {
        string body;
        try
        {
            using var response = _http.GetAsync("http://runtime/containers/json?all=true").GetAwaiter().GetResult();
            if (!response.IsSuccessStatusCode)
                throw new RuntimeApiException($"{SocketPath}: GET /containers/json answered {(int)response.StatusCode}");
            body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException or SocketException)
        {
            throw new RuntimeApiException($"{SocketPath}: {Innermost(e).Message}");
        }
        try { return Parse(body); }
        catch (JsonException e) { throw new RuntimeApiException($"{SocketPath}: not a container list ({e.Message})"); }
    }

    /// <summary>A <c>/containers/json</c> answer, by container id.</summary>
    public static Dictionary<string, Workload> Parse(string body)
    {
        var byId = new Dictionary<string, Workload>();
        foreach (var c in JsonSerializer.Deserialize(body, RuntimeApiJson.Default.ListApiContainer) ?? [])
            if (Of(c) is { } w) byId[w.ContainerId!] = w;
        return byId;
    }

    /// <summary>One listed container as a workload; null when its id is not a runtime's 64-hex id.</summary>
    public static Workload? Of(ApiContainer c)
    {
        if (c.Id is not { } id || !ContainerCgroup.IsContainerId(id)) return null;
        string? Label(string name) => c.Labels is { } l && l.TryGetValue(name, out var v) ? WorkloadText.Clean(v) : null;
        string? name = c.Names is [var first, ..] ? WorkloadText.Clean(first.TrimStart('/')) : null;
        string? uid = Label("io.kubernetes.pod.uid");
        return new Workload(id, uid is not null && ContainerCgroup.IsPodUid(uid) ? uid : null, name,
            Label("io.kubernetes.pod.name"), Label("io.kubernetes.pod.namespace"), Label("io.kubernetes.container.name"));
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>What is read of each container in the list (the rest is skipped).</summary>
public sealed class ApiContainer
{
    public string? Id { get; set; }
    public List<string>? Names { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
}

[JsonSerializable(typeof(List<ApiContainer>))]
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true)]
internal sealed partial class RuntimeApiJson : JsonSerializerContext;

public sealed class RuntimeApiException(string message) : Exception(message);
