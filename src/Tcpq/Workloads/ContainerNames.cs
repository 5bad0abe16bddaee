using Tcpq.Events;

namespace Tcpq.Workloads;

/// <summary>
/// Container id → names, from the runtime's API (docker, podman) and kubelet's log links, merged:
/// the API's name and labels first, the links for what the labels lack (containerd and CRI-O
/// nodes have only the links). Both are listed whole and kept; an id not in the lists lists them
/// again (so containers that start later are named), but an id a listing did not name is not
/// listed for again within <see cref="MinRefresh"/>. Stopped containers stay named (the API lists them until they
/// are removed; a listener's series keep their labels beyond that, see <see cref="WorkloadResolver"/>).
/// Bounded: a list is kept up to <see cref="MaxKept"/> containers.
/// </summary>
public sealed class ContainerNames : IDisposable
{
    public const int MaxKept = 16_384;
    public static readonly TimeSpan MinRefresh = TimeSpan.FromSeconds(5);

    private readonly RuntimeApiClient? _api;
    private readonly KubeletLogLinks? _links;
    private readonly TextWriter _log;
    private readonly bool _apiGiven;
    private Dictionary<string, Workload> _fromApi = [], _fromLinks = [];
    private readonly Dictionary<string, long> _missedAtMs = [];
    private readonly object _gate = new();
    private string? _apiError;

    /// <param name="apiSocket">The runtime API's socket; null: the first of
    /// <see cref="RuntimeApiClient.DefaultSockets"/> that exists, if any.</param>
    /// <param name="kubeletLogs">kubelet's link directory; null: none.</param>
    /// <param name="log">Where a failing API is said, once per change of its error.</param>
    public ContainerNames(string? apiSocket, string? kubeletLogs, TextWriter log)
    {
        _apiGiven = apiSocket is not null;
        apiSocket ??= RuntimeApiClient.DefaultSockets.FirstOrDefault(File.Exists);
        _api = apiSocket is null ? null : new RuntimeApiClient(apiSocket);
        _links = kubeletLogs is null ? null : new KubeletLogLinks(kubeletLogs);
        _log = log;
    }

    public string? ApiSocket => _api?.SocketPath;

    /// <summary>What is known of container <paramref name="id"/>, or null.</summary>
    public Workload? Of(string id)
    {
        lock (_gate)
        {
            if (Known(id) is { } known) return known;
            long now = Environment.TickCount64;
            if (_missedAtMs.TryGetValue(id, out long missed) && now - missed < MinRefresh.TotalMilliseconds) return null;
            List();
            if (Known(id) is { } listed) return listed;
            if (_missedAtMs.Count > MaxKept) _missedAtMs.Clear();
            _missedAtMs[id] = now;
            return null;
        }
    }

    private Workload? Known(string id)
    {
        var api = _fromApi.GetValueOrDefault(id);
        var link = _fromLinks.GetValueOrDefault(id);
        if (api is null) return link;
        if (link is null) return api;
        return api with
        {
            PodUid = api.PodUid ?? link.PodUid,
            PodName = api.PodName ?? link.PodName,
            Namespace = api.Namespace ?? link.Namespace,
            K8sContainerName = api.K8sContainerName ?? link.K8sContainerName,
        };
    }

    private void List()
    {
        if (_api is not null)
        {
            try
            {
                _fromApi = Bounded(_api.List());
                if (_apiError is not null) _log.WriteLine($"tcpq: container names from {_api.SocketPath} again");
                _apiError = null;
            }
            catch (RuntimeApiException e)
            {
                // said when it first fails (or fails otherwise), not at every refresh
                if (e.Message != _apiError && (_apiGiven || _apiError is null))
                    _log.WriteLine($"tcpq: no container names from the runtime API: {e.Message}");
                _apiError = e.Message;
            }
        }
        if (_links is not null)
        {
            _fromLinks = Bounded(_links.Read());
        }
    }

    private static Dictionary<string, Workload> Bounded(Dictionary<string, Workload> listed) =>
        listed.Count <= MaxKept ? listed : listed.Take(MaxKept).ToDictionary();

    public void Dispose() => _api?.Dispose();
}
