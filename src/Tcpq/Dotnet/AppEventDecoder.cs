using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Tcpq.Events;

namespace Tcpq.Dotnet;

/// <summary>
/// Turns one process's Kestrel and runtime events into app rows: pairs starts with stops (a
/// request's duration, a connection's lifetime, a GC's pause) and gives each row the 4-tuple the
/// kernel's rows have, so the tracker joins them. Times are the runtime's QueryPerformanceCounter,
/// which on Linux is CLOCK_MONOTONIC in ns: the kernel's clock. Knows nothing of EventPipe itself
/// (<see cref="AppSession"/> feeds it), so tests drive it directly.
/// </summary>
public sealed class AppEventDecoder(DotnetProcess process, IEventSink sink, IReadOnlySet<EventKind>? kinds = null)
{
    /// <summary>Bounds on what is remembered between a start and its stop: a connection or request
    /// past them is forgotten (its stop then gives no row), never memory without end.</summary>
    public const int MaxOpenConnections = 65536;
    public const int MaxOpenRequests = 65536;

    public const int StarvationReason = 6;          // ThreadAdjustmentReason.Starvation
    public const int CooperativeBlockingReason = 8; // ThreadAdjustmentReason.CooperativeBlocking (.NET 6+)

    private sealed class Connection
    {
        public Address16 Local, Remote;
        public ushort LocalPort, RemotePort;
        public ulong StartNs;
        public uint Requests;
    }

    private readonly Dictionary<string, Connection> _connections = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ulong> _requests = new(StringComparer.Ordinal);
    private ulong _suspendNs;
    private uint _gcCount;
    private uint? _threads;
    private readonly Comm16 _comm = process.Comm16;

    public long Rows { get; private set; }

    public void ConnectionStart(ulong ts, string connectionId, string? local, string? remote)
    {
        if (!TryEndPoint(local, out var la, out var lp) || !TryEndPoint(remote, out var ra, out var rp)) return; // not TCP (a unix socket, a pipe)
        if (_connections.Count >= MaxOpenConnections) _connections.Clear();
        var c = new Connection { Local = la, LocalPort = lp, Remote = ra, RemotePort = rp, StartNs = ts };
        _connections[connectionId] = c;
        Emit(Row(EventKind.AppConn, ts, c));
    }

    public void RequestStart(ulong ts, string requestId)
    {
        if (_requests.Count >= MaxOpenRequests) _requests.Clear();
        _requests[requestId] = ts;
    }

    public void RequestStop(ulong ts, string connectionId, string requestId)
    {
        if (!_connections.TryGetValue(connectionId, out var c)) return;
        c.Requests++;
        var e = Row(EventKind.AppRequest, ts, c);
        if (_requests.Remove(requestId, out ulong start) && ts >= start) { e.WaitNs = ts - start; e.Flags |= EventFlags.Wait; }
        e.Attempt = RequestNumber(requestId) ?? c.Requests;
        e.Flags |= EventFlags.Attempt;
        Emit(e);
    }

    public void ConnectionStop(ulong ts, string connectionId)
    {
        if (!_connections.Remove(connectionId, out var c)) return;
        var e = Row(EventKind.AppClose, ts, c);
        if (ts >= c.StartNs) { e.WaitNs = ts - c.StartNs; e.Flags |= EventFlags.Wait; }
        e.Attempt = c.Requests;
        e.Flags |= EventFlags.Attempt;
        Emit(e);
    }

    /// <summary>A refusal of a connection whose start was seen carries its 4-tuple; otherwise
    /// (the session asks only for refusals, <see cref="AppDepth.Process"/>) it is the process's.</summary>
    public void ConnectionRejected(ulong ts, string connectionId)
    {
        var e = _connections.TryGetValue(connectionId, out var c) ? Row(EventKind.AppReject, ts, c) : Process(EventKind.AppReject, ts);
        e.Reason = DropReasons.ConnectionLimit;
        Emit(e);
    }

    /// <summary>Kestrel's meter counted <paramref name="count"/> refusals in the last second: one
    /// row for the process, <c>Attempt</c> the count.</summary>
    public void Rejections(ulong ts, uint count)
    {
        if (count == 0) return;
        var e = Process(EventKind.AppReject, ts);
        e.Reason = DropReasons.ConnectionLimit;
        e.Attempt = count;
        e.Flags |= EventFlags.Attempt;
        Emit(e);
    }

    /// <summary>The System.Runtime counters, once a second: the thread count comes first, the queue length then makes the row.</summary>
    public void Counter(ulong ts, string name, double value)
    {
        if (name == "threadpool-thread-count") _threads = (uint)Math.Max(0, Math.Round(value));
        else if (name == "threadpool-queue-length" && _threads is uint threads)
        {
            var e = Process(EventKind.AppPool, ts);
            e.Q0 = threads;
            e.Q = (uint)Math.Max(0, Math.Round(value));
            e.QMax = 0;
            e.Flags |= EventFlags.Queues;
            Emit(e);
        }
    }

    public void ThreadPoolAdjustment(ulong ts, int reason, uint newThreadCount)
    {
        if (reason is not (StarvationReason or CooperativeBlockingReason)) return;
        var e = Process(EventKind.AppStarve, ts);
        e.Attempt = newThreadCount;
        e.Flags |= EventFlags.Attempt;
        e.Reason = reason == StarvationReason ? DropReasons.Starvation : DropReasons.CooperativeBlocking;
        Emit(e);
    }

    public void GcSuspendStart(ulong ts, uint count)
    {
        _suspendNs = ts;
        _gcCount = count;
    }

    /// <summary>The execution engine restarted: the pause ran from the suspension's start.</summary>
    public void GcRestartStop(ulong ts)
    {
        if (_suspendNs == 0 || ts < _suspendNs) return;
        var e = Process(EventKind.AppGc, ts);
        e.WaitNs = ts - _suspendNs;
        e.Attempt = _gcCount;
        e.Flags |= EventFlags.Wait | EventFlags.Attempt;
        _suspendNs = 0;
        Emit(e);
    }

    private void Emit(in TcpqEvent e)
    {
        if (kinds is not null && !kinds.Contains(e.Kind)) return;
        Rows++;
        sink.OnEvent(in e);
    }

    private TcpqEvent Process(EventKind kind, ulong ts) => new()
    {
        Kind = kind, TsNs = ts, NetNs = process.NetNs, Pid = (uint)process.Pid, Comm = _comm, Flags = EventFlags.Task,
    };

    private TcpqEvent Row(EventKind kind, ulong ts, Connection c)
    {
        var e = Process(kind, ts);
        e.SourceAddress = c.Remote;
        e.SourcePort = c.RemotePort;
        e.DestAddress = c.Local;
        e.DestPort = c.LocalPort;
        return e;
    }

    /// <summary>Kestrel's request id is "{connection id}:{n as 8 hex digits}".</summary>
    internal static uint? RequestNumber(string requestId)
    {
        int colon = requestId.LastIndexOf(':');
        return colon >= 0 && uint.TryParse(requestId.AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint n) ? n : null;
    }

    /// <summary>"127.0.0.1:5000", "[::1]:5000", "[::ffff:10.0.0.1]:5000"; an IPv4 address stored
    /// IPv4-mapped, as the kernel side stores it.</summary>
    internal static bool TryEndPoint(string? text, out Address16 address, out ushort port)
    {
        address = default;
        port = 0;
        if (text is null || !IPEndPoint.TryParse(text, out var ep) || ep.Port == 0) return false;
        var ip = ep.Address;
        if (ip.AddressFamily == AddressFamily.InterNetworkV6 && ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            ip.TryWriteBytes(bytes, out _);
            address = Address16.FromV4(bytes[..4]);
        }
        else
        {
            ip.TryWriteBytes(bytes, out _);
            address = Address16.FromV6(bytes);
        }
        port = (ushort)ep.Port;
        return true;
    }
}
