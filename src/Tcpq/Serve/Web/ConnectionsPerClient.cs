using System.Net;
using Microsoft.AspNetCore.Connections;

namespace Tcpq.Serve.Web;

/// <summary>A connection middleware that closes a client address's connection past its share
/// (<see cref="EndpointLimits.ConnectionsPerClient"/>) at once, before TLS or HTTP costs anything:
/// Kestrel's own limit is for all clients together, so one client could otherwise hold them all.</summary>
public static class ConnectionsPerClient
{
    public static Func<ConnectionDelegate, ConnectionDelegate> Middleware(int perClient)
    {
        var open = new Dictionary<IPAddress, int>();
        return next => async connection =>
        {
            var address = (connection.RemoteEndPoint as IPEndPoint)?.Address;
            if (address is null) { await next(connection); return; }
            if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
            lock (open)
            {
                int n = open.GetValueOrDefault(address);
                if (n >= perClient)
                {
                    connection.Abort(new ConnectionAbortedException("too many connections from one client"));
                    return;
                }
                open[address] = n + 1;
            }
            try
            {
                await next(connection);
            }
            finally
            {
                lock (open)
                {
                    int n = open[address] - 1;
                    if (n == 0) open.Remove(address); else open[address] = n;
                }
            }
        };
    }
}
