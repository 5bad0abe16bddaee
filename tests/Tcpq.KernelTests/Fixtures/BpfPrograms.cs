namespace Tcpq.KernelTests.Fixtures;

/// <summary>tcpq's programs loaded in the kernel, by id, as bpftool lists them.</summary>
public static class BpfPrograms
{
    public static HashSet<int> Tcpq()
    {
        var ids = new HashSet<int>();
        foreach (var line in Shell.Run("bpftool", "prog", "show").Split('\n'))
        {
            // 167: cgroup_skb  name tcpq_ingress  tag ...
            int colon = line.IndexOf(':');
            if (colon > 0 && line.Contains(" name tcpq_", StringComparison.Ordinal) && int.TryParse(line[..colon], out int id))
                ids.Add(id);
        }
        return ids;
    }
}
