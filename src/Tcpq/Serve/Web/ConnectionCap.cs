using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;

namespace Tcpq.Serve.Web;

/// <summary>
/// At most <see cref="EndpointLimits.Connections"/> connections at once, all clients together; a
/// connection past it closes the oldest one that is not answering a request, rather than being
/// refused. Kestrel's own limit refuses the newcomer, so 256 idle or half-sent connections from a
/// few dozen addresses (each under <see cref="ConnectionsPerClient"/>) kept every scraper out until
/// they timed out (tried by hand: 0 of 20 scrapes answered). Evicting the oldest idle connection
/// lets a scraper in at the cost of one reconnect for whoever it evicts; a request being answered
/// is never cut. Only when every connection is answering one is the newcomer closed.
/// </summary>
public sealed class ConnectionCap(int limit)
{
    private const string ItemKey = "tcpq.connection-cap";
    private readonly LinkedList<Entry> _open = []; // oldest first
    private readonly Lock _gate = new();
    private long _evicted;

    /// <summary>Connections closed to make room for a newer one.</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    public int Open
    {
        get { lock (_gate) return _open.Count; }
    }

    private sealed class Entry(ConnectionContext connection)
    {
        public ConnectionContext Connection { get; } = connection;
        /// <summary>Requests being answered on it (0 or 1 with HTTP/1.1); under the gate.</summary>
        public int Answering;
        public LinkedListNode<Entry>? Node;
    }

    /// <summary>The connection middleware: counts the connection in, making room if needed.</summary>
    public Func<ConnectionDelegate, ConnectionDelegate> Middleware() => next => async connection =>
    {
        var entry = new Entry(connection);
        ConnectionContext? evict = null;
        lock (_gate)
        {
            if (_open.Count >= limit)
            {
                var idle = _open.First;
                while (idle is not null && idle.Value.Answering > 0) idle = idle.Next;
                if (idle is null)
                {
                    connection.Abort(new ConnectionAbortedException("every connection is answering a request"));
                    return;
                }
                _open.Remove(idle);
                idle.Value.Node = null;
                evict = idle.Value.Connection;
                _evicted++;
            }
            entry.Node = _open.AddLast(entry);
        }
        evict?.Abort(new ConnectionAbortedException("closed to make room for a newer connection"));
        connection.Items[ItemKey] = entry;
        try
        {
            await next(connection);
        }
        finally
        {
            lock (_gate)
            {
                if (entry.Node is not null) _open.Remove(entry.Node);
                entry.Node = null;
            }
        }
    };

    /// <summary>Marks the request's connection as answering until the answer is written, so that
    /// it is not evicted meanwhile. Call around the request's handling.</summary>
    public async Task Answering(HttpContext context, Func<Task> answer)
    {
        var entry = context.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(ItemKey, out var e) == true ? e as Entry : null;
        if (entry is not null) lock (_gate) entry.Answering++;
        try
        {
            await answer();
        }
        finally
        {
            if (entry is not null) lock (_gate) entry.Answering--;
        }
    }
}
