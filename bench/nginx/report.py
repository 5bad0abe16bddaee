#!/usr/bin/env python3
"""The Markdown section bench/nginx/run writes into bench/RESULTS.md, from its two tables.
Usage: report.py RUNS_TSV STATS_TSV CLK_TCK HEADER
RUNS_TSV, one line per run: load mode round seq rate completed failed passive_opens listen_drops
  tracer_ticks lost written accepted nginx_accepts tcpq_accepts tcpq_drops lifetime_listen_drops
  sample_ratio (the last six for the exactness check of serve on nginx; empty elsewhere).
STATS_TSV, one line per program per bpf_stats run: load mode connections program runs run_time_ns."""
import random
import statistics as st
import sys
from collections import defaultdict

runs_path, stats_path, hz, header = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

GOAL_COUNTING = {"nginx": 0.97, "connload": 0.95}   # serve and top, paired median (issue 21)
GOAL_KERNEL_US = 1.0                                # counting mode's programs, per connection
MODES = {
    "none": "no tracer",
    "serve": "`tcpq serve -p PORT --listen 127.0.0.1:9191 --dotnet off`, scraped once a second",
    "top": "`tcpq top -p PORT` (its defaults; plain output to a file, once a second)",
    "trace": "`tcpq trace -p PORT -o FILE` (csv)",
    "tcpdump": "`tcpdump -i lo -w FILE` SYN/RST packets, in the namespace",
    "bpftrace": "bpftrace: `inet_sock_set_state` filtered on the port, a count per state",
    "serve-base": "`tcpq serve` of the build in TCPQ_BASE (the same command): before, against serve's after",
    "spans": "`tcpq serve` as above with `--spans-slower-than 200ms --otlp-endpoint` (issue 25), scraped once a second",
}
LOADS = {
    "nginx": "nginx, one worker, `ab -c 32`, one connection per request (requests/s)",
    "connload": "connload: connect, accept, client RST (connections/s)",
}


def num(x):
    return float(x) if x not in ("", None) else None


runs = []
for line in open(runs_path):
    f = line.rstrip("\n").split("\t")
    if len(f) < 18:
        continue
    runs.append(dict(load=f[0], mode=f[1], round=int(f[2]), seq=int(f[3]), rate=float(f[4]), done=int(f[5]),
                     failed=int(f[6] or 0), passive=int(f[7]), drops=int(f[8]), cpu=int(f[9]) / hz,
                     lost=int(float(f[10] or 0)), written=num(f[11]), accepted=num(f[12]), nginx_accepts=num(f[13]),
                     tcpq_accepts=num(f[14]), tcpq_drops=num(f[15]), life_drops=num(f[16]), sample=num(f[17])))


def paired(load):
    """Each run's rate over its neighbouring untraced runs' (the one before and the one after it
    in time, their mean where both exist): the machine's drift cancels out. {mode: {round: ratio}}"""
    rs = sorted((r for r in runs if r["load"] == load), key=lambda r: r["seq"])
    nones = [r for r in rs if r["mode"] == "none"]
    out = defaultdict(dict)
    for r in rs:
        if r["mode"] == "none":
            continue
        before = [n for n in nones if n["seq"] < r["seq"]]
        after = [n for n in nones if n["seq"] > r["seq"]]
        ref = [x["rate"] for x in (before[-1:] + after[:1])]
        if ref:
            out[r["mode"]][r["round"]] = r["rate"] / st.mean(ref)
    return out


def fmt_ratio(qs):
    q = sorted(qs)
    return f"**{st.median(q):.3f}** ({q[0]:.3f}–{q[-1]:.3f})" if q else "-"


def median_ci(qs, resamples=4000):
    """95 % interval of the median by bootstrap (fixed seed: the same figures give the same text).
    Near a goal, it says whether the rounds decide it."""
    q = list(qs)
    if len(q) < 3:
        return None
    rnd = random.Random(21)
    meds = sorted(st.median(rnd.choices(q, k=len(q))) for _ in range(resamples))
    return meds[int(0.025 * resamples)], meds[int(0.975 * resamples) - 1]


def fmt_ci(qs):
    ci = median_ci(qs)
    return f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else "-"


print("## What tcpq costs a real server (issue 21): nginx and connload, bench/nginx/run")
print()
print(header)
print()
print("Each run: the tracer started and live, then the load for the run's seconds; the paired ratio is "
      "each run's rate over the untraced runs next to it in time (the one before and the one after, "
      "their mean); median and range over the rounds. Tracer CPU: user + system time of the tracer's "
      "process during the load, per connection (its programs' time in the kernel is charged to the "
      "load: see the bpf_stats tables).")
ratios = {}
for load in LOADS:
    lr = [r for r in runs if r["load"] == load]
    if not lr:
        continue
    pr = paired(load)
    ratios[load] = {m: list(v.values()) for m, v in pr.items() if v}
    print()
    print(f"### {LOADS[load]}")
    print()
    print("| mode | median rate | paired ratio, median (range) | 95 % interval of that median | tracer CPU µs / connection | connections (all runs) | failed | lost |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for m in MODES:
        rs = [r for r in lr if r["mode"] == m]
        if not rs:
            continue
        cpu = "-" if m == "none" else f"{st.median(r['cpu'] * 1e6 / max(r['passive'], 1) for r in rs):.2f}"
        ratio = "1" if m == "none" else fmt_ratio(pr[m].values())
        ci = "-" if m == "none" else fmt_ci(pr[m].values())
        lost = "-" if m == "none" else f"{sum(r['lost'] for r in rs):,}"
        print(f"| {MODES[m]} | {st.median(r['rate'] for r in rs):,.0f} | {ratio} | {ci} | {cpu} | "
              f"{sum(r['passive'] for r in rs):,} | {sum(r['failed'] for r in rs):,} | {lost} |")
    rounds = sorted({r["round"] for r in lr})
    modes = [m for m in MODES if m != "none" and m in pr]
    print()
    print("Per round: the untraced rate, then each mode's paired ratio.")
    print()
    print("| round | none /s | " + " | ".join(modes) + " |")
    print("|---:|---:|" + "---:|" * len(modes))
    for rd in rounds:
        none = [r["rate"] for r in lr if r["mode"] == "none" and r["round"] == rd]
        cells = [f"{pr[m][rd]:.3f}" if rd in pr[m] else "-" for m in modes]
        print(f"| {rd} | {none[0]:,.0f} | " + " | ".join(cells) + " |" if none else f"| {rd} | - | " + " | ".join(cells) + " |")

checks = [r for r in runs if r["load"] == "nginx" and r["mode"] in ("serve", "spans")]
exact = True
if checks:
    print()
    print("### Exactness of `tcpq serve` on nginx, every serve round")
    print()
    print("tcpq_accepts_total read 1.2 s after the load (a scrape may be served from a reading up to 1 s "
          "old), against nginx's stub_status `accepts` over serve's lifetime (the request that read it "
          "not counted); tcpq_listen_drops_total against the namespace's ListenDrops over the same time.")
    print()
    print("| round | tcpq_accepts_total | nginx accepts | difference | tcpq_listen_drops_total | ListenDrops | tcpq_latency_sample_ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in sorted(checks, key=lambda r: r["round"]):
        ta, na = r["tcpq_accepts"], r["nginx_accepts"]
        diff = int(ta - na) if ta is not None and na is not None else None
        exact &= diff == 0 and r["tcpq_drops"] == r["life_drops"]
        print(f"| {r['round']}{' (spans)' if r['mode'] == 'spans' else ''} | {ta or 0:,.0f} | {na or 0:,.0f} | {diff if diff is not None else '?':} | "
              f"{r['tcpq_drops'] or 0:,.0f} | {r['life_drops'] or 0:,.0f} | {r['sample'] if r['sample'] is not None else '-'} |")

# ---- bpf_stats --------------------------------------------------------------------------------
stats = defaultdict(dict)   # (mode) -> load -> [(prog, runs, ns)], with connections
conns = {}
for line in open(stats_path):
    load, mode, c, prog, n, ns = line.rstrip("\n").split("\t")
    conns[(load, mode)] = int(c)
    stats[mode].setdefault(load, []).append((prog, int(n), int(ns)))


def per_conn(mode, load):
    """(program, runs per connection, ns per run, µs per connection), the live reader left out
    (user space runs it once per read, not per connection); and that reader's own line."""
    c = max(conns.get((load, mode), 0), 1)
    rows, reader = [], None
    for prog, n, ns in stats[mode].get(load, []):
        row = (prog, n / c, ns / n if n else 0, ns / 1000 / c)
        if prog.startswith("tcpq_count_read"):
            reader = (prog, n, ns / n if n else 0)
        else:
            rows.append(row)
    return sorted(rows, key=lambda x: -x[3]), reader


def floor_ns():
    """What bpf_stats charges a run of an empty program on the nginx load: (ns per run, runs), or None."""
    progs = stats.get("empty", {}).get("nginx", [])
    n, ns = sum(p[1] for p in progs), sum(p[2] for p in progs)
    return (ns / n, n) if n else None


kernel_us = {}
titles = {"serve": "Counting mode (`tcpq serve`)", "top": "Counting mode as `tcpq top` runs it (its default --latency-sample)",
          "trace": "Rows mode (`tcpq trace -o FILE`)", "spans": "Counting mode with `--spans-slower-than 200ms`"}
for mode in ("serve", "spans", "top", "trace"):
    if mode not in stats:
        continue
    loads = [l for l in LOADS if l in stats[mode]]
    tables = {l: per_conn(mode, l) for l in loads}
    progs = sorted({p for l in loads for p, *_ in tables[l][0]})
    print()
    print(f"### {titles[mode]}: its programs' run time per connection (`kernel.bpf_stats_enabled=1`)")
    print()
    print("One run per load, connections = the namespace's TcpPassiveOpens delta ("
          + "; ".join(f"{l}: {conns[(l, mode)]:,}" for l in loads)
          + "). bpf_stats counts the programs' own run time, not the cost of calling them.")
    print()
    print("| program | " + " | ".join(f"{l}: runs / conn | ns / run | µs / conn" for l in loads) + " |")
    print("|---|" + "---:|---:|---:|" * len(loads))
    for p in progs:
        cells = []
        for l in loads:
            row = next((x for x in tables[l][0] if x[0] == p), None)
            cells.append(f"{row[1]:.2f} | {row[2]:.0f} | {row[3]:.3f}" if row else "- | - | -")
        print(f"| {p} | " + " | ".join(cells) + " |")
    totals = {l: sum(x[3] for x in tables[l][0]) for l in loads}
    for l in loads:
        kernel_us[(mode, l)] = totals[l]
    print("| **all, per connection** | " + " | ".join(f"| | **{totals[l]:.2f}**" for l in loads) + " |")
    f = floor_ns()
    if mode == "serve" and f and "nginx" in loads:
        runs_nginx = sum(x[1] for x in tables["nginx"][0])
        print()
        print(f"The floor: an empty program (bpftrace, `tracepoint:sock:inet_sock_set_state {{ }}`, one more run "
              f"on the nginx load) is charged **{f[0]:.0f} ns a run** by bpf_stats ({f[1]:,} runs): the clock reads "
              f"around each run and the call. Counting mode's {runs_nginx:.1f} runs per connection on nginx "
              f"at that floor are {runs_nginx * f[0] / 1000:.2f} µs of its {totals['nginx']:.2f} µs.")
    readers = [(l, tables[l][1]) for l in loads if tables[l][1]]
    if readers:
        print()
        print("Not per connection: the live reader, run by tcpq at each read (scrape): "
              + "; ".join(f"{l}: {r[1]} runs, {r[2] / 1000:.0f} µs a run" for l, r in readers) + ".")

# ---- reading: the goals, and where the time goes where one is missed ---------------------------
print()
print("### Reading (generated from the figures above)")
print()


def breakdown(mode, load):
    rows, _ = per_conn(mode, load)
    return ", ".join(f"{p.removeprefix('tcpq_')} {r:.2f} × {ns:.0f} ns = {us * 1000:.0f} ns" for p, r, ns, us in rows if us >= 0.005)


lines = []
for load, goal in GOAL_COUNTING.items():
    if load not in ratios:
        continue
    for m in ("serve", "top", "spans"):
        q = ratios[load].get(m)
        if not q:
            continue
        ci = median_ci(q)
        verdict = "met" if st.median(q) >= goal else "NOT met"
        if ci and ci[0] < goal <= ci[1]:
            verdict += f", but the rounds do not decide it (95 % interval {ci[0]:.3f}–{ci[1]:.3f})"
        elif ci:
            verdict += f" (95 % interval {ci[0]:.3f}–{ci[1]:.3f})"
        name = "serve --spans-slower-than 200ms" if m == "spans" else m
        lines.append(f"- `{name}` on {load}: **{st.median(q):.3f}** against the goal of {goal:.2f}: {verdict}.")
for mode, load in [(m, l) for m in ("serve", "top") for l in LOADS]:
    us = kernel_us.get((mode, load))
    if us is not None:
        verdict = "met" if us <= GOAL_KERNEL_US else f"NOT met, {us - GOAL_KERNEL_US:.2f} µs over"
        s = (f"- Counting mode's programs (`{mode}`) on {load}: **{us:.2f} µs** per connection against ≤ {GOAL_KERNEL_US:.1f} µs: "
             f"{verdict}. Per program, runs per connection × ns per run: {breakdown(mode, load)}.")
        f = floor_ns()
        if f:
            n = sum(x[1] for x in per_conn(mode, load)[0])
            s += (f" Of that, {n:.1f} runs × the empty program's {f[0]:.0f} ns (measured on nginx) are {n * f[0] / 1000:.2f} µs: "
                  f"what a run costs bpf_stats however early it returns; the programs' work above that is {us - n * f[0] / 1000:.2f} µs.")
        lines.append(s)
for load in LOADS:
    q = {m: st.median(v) for m, v in ratios.get(load, {}).items()}
    if "trace" in q and "tcpdump" in q:
        ok = q["trace"] >= q["tcpdump"]
        s = (f"- `trace` csv on {load}: **{q['trace']:.3f}** against tcpdump's **{q['tcpdump']:.3f}**: "
             f"{'met' if ok else 'NOT met'}.")
        if not ok and ("trace", load) in kernel_us:
            cpu = st.median(r["cpu"] * 1e6 / max(r["passive"], 1) for r in runs if r["load"] == load and r["mode"] == "trace")
            s += (f" Its programs take {kernel_us[('trace', load)]:.2f} µs per connection ({breakdown('trace', load)}); "
                  f"its own process {cpu:.2f} µs.")
        lines.append(s)
lost = sum(r["lost"] for r in runs if r["mode"] in ("serve", "top", "trace"))
lines.append(f"- Events lost by tcpq in all runs: {lost:,}." + ("" if lost == 0 else " **A mode that lost events did less than its job.**"))
if checks:
    lines.append("- Exactness: " + ("in every serve round tcpq_accepts_total equalled nginx's accepts and its drops the namespace's ListenDrops."
                                    if exact else "**a serve round differed from nginx's count or from ListenDrops: see the table.**"))
print("\n".join(lines))
