using System.Globalization;

namespace Tcpq.Commands;

/// <summary>Ports from the command line: repeated -p, or comma lists; 1..65535 only.</summary>
public static class PortList
{
    public static IReadOnlyList<ushort> Parse(IEnumerable<string> values)
    {
        var ports = new SortedSet<ushort>();
        foreach (var value in values)
            foreach (var part in value.Split(',', StringSplitOptions.TrimEntries))
            {
                if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p < 1 || p > 65535)
                    throw new TcpqException(ExitCode.BadPort, $"bad port '{part}': a port is a number from 1 to 65535");
                ports.Add((ushort)p);
            }
        return [.. ports];
    }

    /// <summary>"every listening port", "port 80", "ports 80, 443".</summary>
    public static string Text(IReadOnlyList<ushort> ports) =>
        ports.Count == 0 ? "every listening port" : $"port{(ports.Count > 1 ? "s" : "")} {string.Join(", ", ports)}";
}
