using Tcpq.Events;
using Tcpq.Output;

namespace Tcpq.Tests;

/// <summary>The one sanitizer for what a person reads: control characters shown escaped, never raw.</summary>
public class DisplayTextTests
{
    [Theory]
    [InlineData("nginx", "nginx")]
    [InlineData("évil → ok", "évil → ok")]
    [InlineData("a\x1b[2Jb", "a\\e[2Jb")]
    [InlineData("x\rCRITICAL", "x\\rCRITICAL")]
    [InlineData("two\nlines", "two\\nlines")]
    [InlineData("tab\there", "tab\\there")]
    [InlineData("bell\a\x7f", "bell\\x07\\x7f")]
    [InlineData("c1\u009b31m", "c1\\x9b31m")]
    [InlineData("rtl\u202etxt.exe", "rtl\\u202Etxt.exe")]
    [InlineData("back\\slash", "back\\slash")]
    public void Control_characters_are_shown_escaped(string raw, string shown) => Assert.Equal(shown, DisplayText.Of(raw));

    [Fact]
    public void A_second_pass_changes_nothing()
    {
        var once = DisplayText.Of("a\x1b]0;title\a\r\n\u202e");
        Assert.Equal(once, DisplayText.Of(once));
        Assert.True(DisplayText.IsSafe(once));
    }

    [Fact]
    public void Bytes_that_are_not_utf8_are_replaced() =>
        Assert.Equal("a\uFFFDb\\e", DisplayText.Of([(byte)'a', 0xff, (byte)'b', 0x1b]));

    [Fact]
    public void The_writer_keeps_one_line_per_WriteLine_whatever_a_name_holds()
    {
        var inner = new StringWriter();
        var w = DisplayTextWriter.Wrap(inner);
        w.WriteLine("accepted by evil\nCRITICAL fake\x1b[1A[12]");
        w.Write("kept\nbreak\x1b");
        Assert.Equal("accepted by evil\\nCRITICAL fake\\e[1A[12]\nkept\nbreak\\e", inner.ToString());
        Assert.Same(w, DisplayTextWriter.Wrap(w));
    }

    [Fact]
    public void Top_plain_snapshots_show_a_processs_control_characters_escaped()
    {
        var frame = new Tcpq.Top.TopFrame(new DateTime(2026, 12, 7, 0, 0, 0, DateTimeKind.Utc), 1, [], Tcpq.Top.TopSort.Worst, false, 0, 0)
        {
            AppLines = [new Tcpq.Top.AppLine("pid 4242 evil\x1b]0;owned\a\rnginx: thread pool 8", Tcpq.Connections.Severity.Ok)],
        };
        var to = new StringWriter();
        Tcpq.Top.TopPlainWriter.Write(to, frame, "ebpf");
        var text = to.ToString();
        Assert.Contains("pid 4242 evil\\e]0;owned\\x07\\rnginx: thread pool 8", text);
        Assert.DoesNotContain('\x1b', text);
        Assert.DoesNotContain('\r', text);
    }
}
