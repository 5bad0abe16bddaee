namespace Tcpq.Events;

/// <summary>
/// Where events come from: the ring buffer (<c>Bpf/Tracer</c>), sock_diag sampled
/// (<c>Diag/DiagSampler</c>), a saved trace (<c>Report/TraceReader</c>), a .NET runtime's EventPipe
/// session (<c>Dotnet/DotnetAttacher</c>). Each is given its <see cref="IEventSink"/> when it is
/// made and hands every event to it, by reference, when pumped; <see cref="PollLoop"/> pumps them
/// all, so a command wires a source to its consumers and runs the loop. The other way in,
/// counters read whole, is <c>Aggregates/IAggregateSource</c>.
/// </summary>
public interface IEventSource : IDisposable
{
    /// <summary>Hands the events waiting to the sink; returns how many. A source the kernel can
    /// wake (<see cref="Waits"/>) first waits up to <paramref name="wait"/> for them; the others
    /// never wait.</summary>
    int Pump(TimeSpan wait);

    /// <summary>Events this source lost before it could hand them on, since it began (the ring
    /// buffer's, counted in the kernel when it was full); 0 where nothing can be lost unseen.</summary>
    ulong Lost { get; }

    /// <summary>Pumping waits for the kernel's wake-up (the ring buffer's epoll): the loop waits in
    /// it between ticks instead of sleeping, so a burst is read as it comes.</summary>
    bool Waits => false;

    /// <summary>A finite source (a saved trace) has handed on its last event.</summary>
    bool Ended => false;
}
