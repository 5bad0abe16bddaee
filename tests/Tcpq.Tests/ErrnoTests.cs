using Tcpq.Interop;

namespace Tcpq.Tests;

public class ErrnoTests
{
    [Theory]
    [InlineData(Errno.EPERM, "Operation not permitted")]
    [InlineData(Errno.ENOENT, "No such file or directory")]
    [InlineData(Errno.EINTR, "Interrupted system call")]
    [InlineData(Errno.EACCES, "Permission denied")]
    [InlineData(Errno.EINVAL, "Invalid argument")]
    [InlineData(Errno.EPIPE, "Broken pipe")]
    public void An_errno_reads_as_the_C_library_says_it(int errno, string text) => Assert.Equal(text, Errno.Text(errno));

    [Fact]
    public void An_errno_the_C_library_does_not_know_still_says_its_number() =>
        Assert.Contains("4242", Errno.Text(4242));
}
