using Tcpq.Bpf;
using Tcpq.Events;
using Tcpq.KernelTests.Fixtures;

namespace Tcpq.KernelTests;

/// <summary>Every choice of <c>--events</c> prunes other paths out of the programs (the kinds are
/// read-only globals the verifier sees), so each is a program of its own to the verifier. Every
/// choice without syn-aa was once refused (<c>trace -e syn</c>: "cannot return stack pointer to the
/// caller"). Each single action here is loaded and attached by the real code, in rows mode; the
/// counting mode's set is loaded by every serve and top test.</summary>
public class EventChoiceLoadTests
{
    public static TheoryData<EventKind> EveryAction() => [.. EventKinds.All];

    [Theory]
    [MemberData(nameof(EveryAction))]
    public void Trace_with_only_this_action_loads_and_attaches(EventKind kind)
    {
        Requirements.Check();
        var before = BpfPrograms.Tcpq();
        var config = new TraceConfig([(ushort)Ports.Next()], new HashSet<EventKind> { kind }, TraceConfig.MinRingBufferKb);
        using var tracer = Tracer.Start(config, IEventSink.None);
        var ours = BpfPrograms.Tcpq();
        ours.ExceptWith(before);
        // the listener path and the socket's state changes, whatever the action
        Assert.Superset(new HashSet<string> { "tcpq_consume_skb", "tcpq_ingress", "tcpq_kfree_skb", "tcpq_set_state" }, BpfPrograms.Names(ours).ToHashSet());
    }
}
