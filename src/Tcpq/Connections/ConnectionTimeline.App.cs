using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>The application's side of a connection (app-* rows from a .NET process, joined by the
/// 4-tuple): accept → Kestrel's connection start → the first request → the connection's end.</summary>
public sealed partial class ConnectionTimeline
{
    public ulong AppConnNs;          // Kestrel started the connection
    public ulong FirstRequestEndNs;  // the first request's app-request row
    public ulong FirstRequestNs;     // its duration, when known
    public bool HasFirstRequest;
    public uint AppRequests;
    public ulong AppCloseNs;
    public bool AppRejected;
    /// <summary>Accepted by a process whose app rows are coming: wait for them before lingering.</summary>
    internal bool AppExpected;

    public bool AppJoined => AppConnNs != 0 || AppRequests > 0 || AppCloseNs != 0 || AppRejected;

    /// <summary>Accepted, and the application's first request (or its end of the connection) is
    /// still to come: not done lingering, however long the request takes.</summary>
    public bool AwaitingApp => Accepted && (AppJoined || AppExpected) && !HasFirstRequestEnd && AppCloseNs == 0 && !AppRejected;

    private bool HasFirstRequestEnd => FirstRequestEndNs != 0;

    /// <summary>accept() to Kestrel's connection start: the accept loop's hand-off to the thread pool.</summary>
    public ulong? AcceptToApp => AppConnNs != 0 && AcceptNs != 0 && AppConnNs >= AcceptNs ? AppConnNs - AcceptNs : null;

    /// <summary>The first request's start (its end less its duration).</summary>
    public ulong FirstRequestStartNs => HasFirstRequest && FirstRequestEndNs >= FirstRequestNs ? FirstRequestEndNs - FirstRequestNs : FirstRequestEndNs;

    private void ClearApp()
    {
        AppConnNs = FirstRequestEndNs = FirstRequestNs = AppCloseNs = 0;
        AppRequests = 0;
        HasFirstRequest = AppRejected = AppExpected = false;
    }

    private void ApplyApp(in TcpqEvent e)
    {
        switch (e.Kind)
        {
            case EventKind.AppConn:
                if (AppConnNs == 0 || e.TsNs < AppConnNs) AppConnNs = e.TsNs;
                break;
            case EventKind.AppRequest:
                AppRequests++;
                bool first = e.Has(EventFlags.Attempt) ? e.Attempt <= 1 : FirstRequestEndNs == 0 || e.TsNs < FirstRequestEndNs;
                if (first || FirstRequestEndNs == 0)
                {
                    FirstRequestEndNs = e.TsNs;
                    HasFirstRequest = e.Has(EventFlags.Wait);
                    FirstRequestNs = e.Has(EventFlags.Wait) ? e.WaitNs : 0;
                }
                break;
            case EventKind.AppClose:
                AppCloseNs = e.TsNs;
                break;
            case EventKind.AppReject:
                AppRejected = true;
                break;
        }
    }
}
