using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>What a connection's first-read, first-write and close rows said. Held by its
/// <see cref="ConnectionTimeline"/> only once such a row comes, and reused with it.</summary>
public sealed class ApplicationPart
{
    public ulong FirstReadNs, AcceptToReadNs, DataAgeNs, FirstReadBytes;
    public bool HasAcceptToRead, HasDataAge;
    public ulong FirstWriteNs, WriteWaitNs, FirstWriteBytes, BytesReadBeforeWrite;
    public bool HasWriteWait;
    public ulong CloseNs, LifetimeNs, BytesIn, BytesOut;
    public bool HasLifetime, CloseReset;
    public Closer Closer;

    public void Clear()
    {
        FirstReadNs = AcceptToReadNs = DataAgeNs = FirstReadBytes = 0;
        FirstWriteNs = WriteWaitNs = FirstWriteBytes = BytesReadBeforeWrite = 0;
        CloseNs = LifetimeNs = BytesIn = BytesOut = 0;
        HasAcceptToRead = HasDataAge = HasWriteWait = HasLifetime = CloseReset = false;
        Closer = Closer.None;
    }

    internal void Apply(in TcpqEvent e)
    {
        switch (e.Kind)
        {
            case EventKind.FirstRead:
                FirstReadNs = e.TsNs;
                if (e.Has(EventFlags.Wait)) { AcceptToReadNs = e.WaitNs; HasAcceptToRead = true; }
                if (e.Has(EventFlags.DataAge)) { DataAgeNs = e.DataAgeNs; HasDataAge = true; }
                if (e.Has(EventFlags.Bytes)) { FirstReadBytes = e.BytesIn; NoteBytes(e.BytesIn, e.BytesOut); }
                break;
            case EventKind.FirstWrite:
                FirstWriteNs = e.TsNs;
                if (e.Has(EventFlags.Wait)) { WriteWaitNs = e.WaitNs; HasWriteWait = true; }
                if (e.Has(EventFlags.Bytes)) { FirstWriteBytes = e.BytesOut; BytesReadBeforeWrite = e.BytesIn; NoteBytes(e.BytesIn, e.BytesOut); }
                break;
            case EventKind.Close:
                CloseNs = e.TsNs;
                if (e.Has(EventFlags.Wait)) { LifetimeNs = e.WaitNs; HasLifetime = true; }
                if (e.Has(EventFlags.Bytes)) NoteBytes(e.BytesIn, e.BytesOut);
                if (e.Has(EventFlags.Closer)) { Closer = e.Closer; CloseReset = e.Reset != 0; }
                break;
        }
    }

    /// <summary>Each row carries the totals so far: the largest is the latest.</summary>
    private void NoteBytes(ulong bytesIn, ulong bytesOut)
    {
        if (bytesIn > BytesIn) BytesIn = bytesIn;
        if (bytesOut > BytesOut) BytesOut = bytesOut;
    }
}
