namespace Tcpq.Connections;

/// <summary>Which rows from inside the application a trace holds: the tracker holds an accepted
/// connection until those have come (or it goes idle).</summary>
[Flags]
public enum ApplicationRows
{
    None = 0,
    FirstRead = 1,
    FirstWrite = 2,
    Close = 4,
    /// <summary>A saved trace: whatever it holds, wait for close.</summary>
    All = FirstRead | FirstWrite | Close,
}
