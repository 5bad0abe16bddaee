using System.Globalization;
using System.Text;
using Tcpq.Events;

namespace Tcpq.Connections;

/// <summary>Durations as people read them: 850 µs, 12.5 ms, 7.01 s.</summary>
public static class Durations
{
    public static string Text(ulong ns) => TextUs((long)(ns / 1000));

    public static string TextUs(long us) =>
        us < 1000 ? $"{us} µs"
        : us < 1_000_000 ? (us / 1000.0).ToString(us < 10_000 ? "0.##" : "0.#", CultureInfo.InvariantCulture) + " ms"
        : (us / 1e6).ToString(us < 100_000_000 ? "0.00" : "0", CultureInfo.InvariantCulture) + " s";
}
