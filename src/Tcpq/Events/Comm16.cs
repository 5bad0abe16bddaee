using System.Text;

namespace Tcpq.Events;

/// <summary>A task's comm as the kernel keeps it: up to 15 bytes and a NUL (TASK_COMM_LEN 16),
/// shorter ones NUL-terminated. The one place that trims and fills it.</summary>
[System.Runtime.CompilerServices.InlineArray(16)]
public struct Comm16
{
    private byte _b;

    /// <summary>The kernel's limit: longer names are cut.</summary>
    public const int MaxLength = 15;

    /// <summary>The bytes up to the first NUL.</summary>
    public static ReadOnlySpan<byte> Trimmed(in Comm16 c)
    {
        ReadOnlySpan<byte> s = c;
        int nul = s.IndexOf((byte)0);
        return nul < 0 ? s : s[..nul];
    }

    /// <summary>The comm as text, or null when empty.</summary>
    public static string? Text(in Comm16 c)
    {
        var s = Trimmed(in c);
        return s.IsEmpty ? null : Encoding.UTF8.GetString(s);
    }

    /// <summary>A comm from UTF-8 bytes (a row of a saved trace, /proc/PID/comm), cut as the kernel cuts it.</summary>
    public static Comm16 From(ReadOnlySpan<byte> utf8)
    {
        var c = new Comm16();
        utf8[..Math.Min(utf8.Length, MaxLength)].CopyTo(c);
        return c;
    }

    public static Comm16 From(string text) => From(Encoding.UTF8.GetBytes(text));
}
