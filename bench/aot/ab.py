#!/usr/bin/env python3
"""A/B of two tcpq builds (e.g. Native AOT vs framework-dependent), interleaved per round.
  start:  time from exec to the CSV header on stdout and to 'tcpq: tracing' on stderr (no load)
  load:   `trace -p PORT -o FILE` while bench/load/connload runs in a private netns for S seconds:
          tracer CPU (user+sys, /proc/PID/stat) during the load, VmHWM, events; CPU per event
Usage: bench/aot/ab.py A_BINARY B_BINARY [ROUNDS] [SECONDS] [THREADS]   (root)"""
import os, re, signal, statistics, subprocess, sys, tempfile, time

a, b = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 4
threads = int(sys.argv[5]) if len(sys.argv) > 5 else 2
root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
work = tempfile.mkdtemp(prefix="tcpq-ab-")
ns = f"tcpqab-{os.getpid()}"
tick = os.sysconf("SC_CLK_TCK")
subprocess.run(["gcc", "-O2", "-pthread", "-o", f"{work}/connload", f"{root}/bench/load/connload.c"], check=True)
subprocess.run(["ip", "netns", "add", ns], check=True)
subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)

def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick

def hwm(pid):
    return int(re.search(r"VmHWM:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1)) / 1024

def start(binary, port, out):
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "trace", "-p", str(port)] + (["-o", out] if out else []),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    header = None
    if not out:
        p.stdout.readline(); header = time.monotonic() - t0
    seen = []
    while True:
        line = p.stderr.readline()
        seen.append(line)
        if not line: raise RuntimeError(f"{binary} did not start: {''.join(seen)} exit {p.wait()}")
        if line.startswith("tcpq: tracing"): return p, header, time.monotonic() - t0

def stop(p):
    """SIGINT, then the child's own accounting: (events, user+sys CPU s of the whole run, ru_maxrss MB)."""
    p.send_signal(signal.SIGINT)
    if p.stdout: p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    m = re.search(r"tcpq: (\d+) events", err)
    return (int(m.group(1)) if m else -1), ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024

res = {a: {"header": [], "tracing": [], "idle_cpu": [], "idle_rss": [], "cpu": [], "hwm": [], "events": [], "us_per_event": [], "rate": []}, b: None}
res[b] = {k: [] for k in res[a]}
port = 9310
try:
    for r in range(rounds):
        for binary in ([a, b] if r % 2 == 0 else [b, a]):
            port += 1
            p, header, tracing = start(binary, port, None)
            _, idle_cpu, idle_rss = stop(p)
            d = res[binary]
            d["header"].append(header); d["tracing"].append(tracing); d["idle_cpu"].append(idle_cpu); d["idle_rss"].append(idle_rss)
            out = f"{work}/out.csv"
            p, _, _ = start(binary, port, out)
            load = subprocess.run(["ip", "netns", "exec", ns, f"{work}/connload", "-p", str(port), "-t", str(threads),
                                   "-n", "5000000", "-d", str(seconds)], capture_output=True, text=True, check=True).stdout
            m = hwm(p.pid)
            events, total, rss = stop(p)
            os.unlink(out)
            # user-space cost per event: the whole run's CPU less an idle run's (start-up, teardown)
            d["cpu"].append(total); d["hwm"].append(max(m, rss)); d["events"].append(events)
            d["us_per_event"].append((total - idle_cpu) / events * 1e6 if events > 0 else float("nan"))
            d["rate"].append(float(re.search(r"rate=([\d.]+)", load).group(1)))
finally:
    subprocess.run(["ip", "netns", "del", ns])

def med(x): return statistics.median(x)
print(f"{rounds} rounds, connload -t {threads} for {seconds} s, interleaved")
print("| build | to CSV header ms | to 'tracing' ms | idle run CPU s | idle peak RSS MB | load run CPU s | events | CPU µs/event | peak RSS MB under load | conn/s |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, d in ((a, res[a]), (b, res[b])):
    print(f"| {name} | {med(d['header'])*1e3:.0f} ({min(d['header'])*1e3:.0f}-{max(d['header'])*1e3:.0f}) | {med(d['tracing'])*1e3:.0f} | {med(d['idle_cpu']):.3f} | {med(d['idle_rss']):.1f} | "
          f"{med(d['cpu']):.2f} | {med(d['events']):.0f} | {med(d['us_per_event']):.2f} ({min(d['us_per_event']):.2f}-{max(d['us_per_event']):.2f}) | "
          f"{med(d['hwm']):.1f} ({min(d['hwm']):.1f}-{max(d['hwm']):.1f}) | {med(d['rate']):.0f} |")
