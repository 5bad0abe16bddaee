namespace Tcpq.Bpf;

/// <summary>
/// What the kernel programs of this process have cost: the run time and run count the kernel
/// keeps per program while <c>kernel.bpf_stats_enabled</c> is 1 (as Tetragon's
/// <c>tetragon_overhead_program_seconds_total</c>), read from /proc/self/fdinfo of every BPF
/// program fd this process holds — no bpf() call, nothing outside what the kernel prints.
/// </summary>
public readonly record struct BpfProgramStats(TimeSpan RunTime, long Runs, int Programs)
{
    public const string StatsSysctl = "/proc/sys/kernel/bpf_stats_enabled";

    /// <summary>Whether the kernel measures program run time now (the sysctl, or a BPF_ENABLE_STATS fd held by anyone).</summary>
    public static bool KernelMeasures() =>
        File.Exists(StatsSysctl) && File.ReadAllText(StatsSysctl).Trim() != "0";

    /// <summary>The sum over this process's program fds, or null when the kernel does not measure
    /// (the counters stay 0 then, which would read as "free").</summary>
    public static BpfProgramStats? OfThisProcess()
    {
        if (!KernelMeasures()) return null;
        long ns = 0, runs = 0;
        int programs = 0;
        foreach (var text in ProgramFdInfos())
        {
            var (fdNs, fdRuns) = Parse(text);
            ns += fdNs;
            runs += fdRuns;
            programs++;
        }
        return new BpfProgramStats(TimeSpan.FromTicks(ns / 100), runs, programs);
    }

    /// <summary>Runs of this process's programs the kernel skipped because the same program was
    /// already running on that CPU (a tracepoint hit inside itself, e.g. a softirq interrupting the
    /// program in a task): each may be a row that is not there. Counted whether or not
    /// bpf_stats_enabled is set.</summary>
    public static long SkippedRunsOfThisProcess() => ProgramFdInfos().Sum(Misses);

    /// <summary>recursion_misses from one fdinfo text (0 where absent).</summary>
    public static long Misses(string fdinfo) => Field(fdinfo, "recursion_misses");

    /// <summary>run_time_ns and run_cnt from one fdinfo text (0 where absent).</summary>
    public static (long Ns, long Runs) Parse(string fdinfo) => (Field(fdinfo, "run_time_ns"), Field(fdinfo, "run_cnt"));

    private static long Field(string fdinfo, string name)
    {
        foreach (var line in fdinfo.Split('\n'))
        {
            var parts = line.Split(':', 2, StringSplitOptions.TrimEntries);
            if (parts.Length == 2 && parts[0] == name && long.TryParse(parts[1], out long v)) return v;
        }
        return 0;
    }

    /// <summary>/proc/self/fdinfo of every BPF program fd this process holds.</summary>
    private static IEnumerable<string> ProgramFdInfos()
    {
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try { target = new FileInfo(fd).LinkTarget; }
            catch (IOException) { continue; } // closed between the listing and the read
            if (target != "anon_inode:bpf-prog") continue;
            string text;
            try { text = File.ReadAllText($"/proc/self/fdinfo/{Path.GetFileName(fd)}"); }
            catch (IOException) { continue; }
            yield return text;
        }
    }
}
