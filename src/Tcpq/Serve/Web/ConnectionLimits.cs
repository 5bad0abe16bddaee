using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;

namespace Tcpq.Serve.Web;

/// <summary>
/// What the endpoint's connections may hold, counted in one place, before TLS or HTTP costs
/// anything:
/// <list type="bullet">
/// <item>at most <c>perClient</c> connections at once from one client address: past it the
/// newcomer is closed at once (Kestrel's own limit is for all clients together, so one client could
/// otherwise hold them all);</item>
/// <item>at most <c>total</c> at once, all clients together: one past it closes the oldest that is
/// not answering a request, rather than being refused. Refusing the newcomer, as Kestrel's limit
/// does, let 256 idle or half-sent connections from a few dozen addresses keep every scraper out
/// until they timed out (tried by hand: 0 of 20 scrapes answered). A request being answered is
/// never cut; only when every connection is answering one is the newcomer closed.</item>
/// </list>
/// </summary>
public sealed class ConnectionLimits(int total, int perClient)
{
    private const string ItemKey = "tcpq.connection-limits";
    private readonly LinkedList<Entry> _open = []; // oldest first
    private readonly Dictionary<IPAddress, int> _perClient = [];
    private readonly Lock _gate = new();

    private sealed class Entry(ConnectionContext connection, IPAddress? client)
    {
        public ConnectionContext Connection { get; } = connection;
        public IPAddress? Client { get; } = client;
        /// <summary>Requests being answered on it (0 or 1 with HTTP/1.1); under the gate.</summary>
        public int Answering;
        public LinkedListNode<Entry>? Node;
    }

    /// <summary>The connection middleware: counts the connection in, or closes it, making room if needed.</summary>
    public Func<ConnectionDelegate, ConnectionDelegate> Middleware() => next => async connection =>
    {
        var client = (connection.RemoteEndPoint as IPEndPoint)?.Address;
        if (client is { IsIPv4MappedToIPv6: true }) client = client.MapToIPv4();
        var entry = new Entry(connection, client);
        ConnectionContext? evict = null;
        lock (_gate)
        {
            if (client is not null && _perClient.GetValueOrDefault(client) >= perClient)
            {
                connection.Abort(new ConnectionAbortedException("too many connections from one client"));
                return;
            }
            if (_open.Count >= total)
            {
                var idle = _open.First;
                while (idle is not null && idle.Value.Answering > 0) idle = idle.Next;
                if (idle is null)
                {
                    connection.Abort(new ConnectionAbortedException("every connection is answering a request"));
                    return;
                }
                Remove(idle.Value);
                evict = idle.Value.Connection;
            }
            entry.Node = _open.AddLast(entry);
            if (client is not null) _perClient[client] = _perClient.GetValueOrDefault(client) + 1;
        }
        evict?.Abort(new ConnectionAbortedException("closed to make room for a newer connection"));
        connection.Items[ItemKey] = entry;
        try
        {
            await next(connection);
        }
        finally
        {
            lock (_gate) Remove(entry);
        }
    };

    /// <summary>Takes an entry out of both counts, once (an evicted connection's own end finds it
    /// gone). Under the gate.</summary>
    private void Remove(Entry entry)
    {
        if (entry.Node is null) return;
        _open.Remove(entry.Node);
        entry.Node = null;
        if (entry.Client is { } client)
        {
            int n = _perClient[client] - 1;
            if (n == 0) _perClient.Remove(client); else _perClient[client] = n;
        }
    }

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
