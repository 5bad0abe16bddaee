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

    /// <summary>The names of the programs with these ids.</summary>
    public static List<string> Names(IEnumerable<int> ids)
    {
        var wanted = ids.ToHashSet();
        var names = new List<string>();
        foreach (var line in Shell.Run("bpftool", "prog", "show").Split('\n'))
        {
            int colon = line.IndexOf(':');
            int at = line.IndexOf(" name ", StringComparison.Ordinal);
            if (colon > 0 && at > 0 && int.TryParse(line[..colon], out int id) && wanted.Contains(id))
                names.Add(line[(at + 6)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]);
        }
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <summary>How many runs of the programs a process holds the kernel skipped because the same
    /// program was already running on that CPU (bpf_prog_info.recursion_misses: a tracepoint hit
    /// in a softirq that interrupted the program's run in process context). The programs are found
    /// through the process's file descriptors (/proc/PID/fdinfo: prog_id).</summary>
    public static long RecursionMisses(int pid)
    {
        var ids = HeldBy(pid);
        if (ids.Count == 0) throw new InvalidOperationException($"process {pid} holds no BPF program");
        using var doc = System.Text.Json.JsonDocument.Parse(Shell.Run("bpftool", "-j", "prog", "show"));
        long misses = 0;
        foreach (var prog in doc.RootElement.EnumerateArray())
            if (ids.Contains(prog.GetProperty("id").GetInt32()) && prog.TryGetProperty("recursion_misses", out var m))
                misses += m.GetInt64();
        return misses;
    }

    /// <summary>The ids of the BPF programs a process holds, by a program's descriptor or a link's
    /// (/proc/PID/fdinfo: prog_id). Unlike a difference of two machine-wide listings, this sees no
    /// program another process loaded meanwhile.</summary>
    public static HashSet<int> HeldBy(int pid)
    {
        var ids = new HashSet<int>();
        foreach (var info in Directory.EnumerateFiles($"/proc/{pid}/fdinfo"))
        {
            try
            {
                foreach (var line in File.ReadLines(info))
                    if (line.StartsWith("prog_id:", StringComparison.Ordinal) && int.TryParse(line[8..].Trim(), out int id)) ids.Add(id);
            }
            catch (IOException) { } // a descriptor closed meanwhile
        }
        return ids;
    }
}
