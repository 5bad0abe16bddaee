using Tcpq.Interop;

namespace Tcpq.Tests;

public class LibBpfErrorPointerTests
{
    [Theory]
    [InlineData(0)]      // libbpf 1.x: NULL, errno set
    [InlineData(-1)]     // libbpf 0.x: ERR_PTR(-EPERM)
    [InlineData(-4095)]  // ERR_PTR(-MAX_ERRNO)
    public void A_null_or_an_encoded_errno_is_a_failure(long pointer) => Assert.True(LibBpf.IsError((nint)pointer));

    [Theory]
    [InlineData(-4096)]
    [InlineData(0x1000)]
    [InlineData(0x7f12_3456_7000)]
    public void Any_other_pointer_is_an_object(long pointer) => Assert.False(LibBpf.IsError((nint)pointer));
}
