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
                if (!int.TryParse(part, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int p) || p < 1 || p > 65535)
                    throw new TcpqException(ExitCode.BadPort, $"bad port '{part}': a port is a number from 1 to 65535");
                ports.Add((ushort)p);
            }
        return [.. ports];
    }
}
