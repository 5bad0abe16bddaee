using Microsoft.Win32.SafeHandles;
using Tcpq.Interop;

namespace Tcpq.Tests;

/// <summary>A map, program, link or ring buffer handle keeps its owner alive, whatever the order
/// of disposal (no native call here: the handles only record when they would have been freed).</summary>
public class ChildHandleTests
{
    private readonly List<string> _freed = [];

    [Fact]
    public void An_owner_disposed_first_is_freed_only_after_its_child()
    {
        var owner = new Recorded("object", _freed);
        var child = new RecordedChild("link", owner, _freed);

        owner.Dispose();
        Assert.Empty(_freed);
        child.Dispose();
        Assert.Equal(["link", "object"], _freed);
    }

    [Fact]
    public void A_chain_is_freed_from_the_leaf_in_any_order_of_disposal()
    {
        var obj = new Recorded("object", _freed);
        var map = new RecordedChild("map", obj, _freed);
        var ring = new RecordedChild("ring", map, _freed);

        obj.Dispose();
        map.Dispose();
        Assert.Empty(_freed);
        ring.Dispose();
        Assert.Equal(["ring", "map", "object"], _freed);
    }

    [Fact]
    public void A_child_cannot_be_made_from_a_disposed_owner()
    {
        var owner = new Recorded("object", _freed);
        owner.Dispose();
        Assert.Throws<ObjectDisposedException>(() => new RecordedChild("map", owner, _freed));
        Assert.Equal(["object"], _freed);
    }

    private sealed class Recorded : SafeHandleZeroOrMinusOneIsInvalid
    {
        private readonly string _name;
        private readonly List<string> _freed;

        public Recorded(string name, List<string> freed) : base(true)
        {
            (_name, _freed) = (name, freed);
            SetHandle(1);
        }

        protected override bool ReleaseHandle() { _freed.Add(_name); return true; }
    }

    private sealed class RecordedChild(string name, System.Runtime.InteropServices.SafeHandle owner, List<string> freed)
        : SafeBpfChildHandle(1, owner)
    {
        protected override void ReleaseChild() => freed.Add(name);
    }
}
