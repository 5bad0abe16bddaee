#!/usr/bin/env python3
"""The EventPipe session's cost on the target app (issue #14: under 3 % for what runs by default).

Runs the kernel tests' ASP.NET Core app (tests/Tcpq.KestrelApp, built by `dotnet build
tests/Tcpq.KernelTests -c Release`) on 127.0.0.1 and drives keep-alive GET /ok requests with wrk
(the cheapest request there is, so the worst case for a per-request cost; wrk, not a Python
client, so that the load generator is not the bottleneck), alternating phases in one run, all with
the same kernel programs so that the difference is the session alone:
  off          tcpq trace --dotnet off
  default      tcpq trace --dotnet PID          (thread pool, GC pauses, Kestrel's refusals, counters)
  connections  ... -e default,app-conn,app-close   (adds Kestrel's connection start/stop)
  requests     ... -e all                         (adds its request start/stop: 2 events a request)
A warm-up phase (discarded) lets the app's JIT settle; each round runs the modes in a rotated
order so that drift favours none. Per phase: the request rate, and the app's CPU time per
request (utime + stime from /proc/PID/stat), which is less noisy than the rate on a shared box.
Prints each mode's ratio to off: of the means, and the median of the rounds' paired ratios. Bounded: 1 + ROUNDS x 4 phases of SECONDS each.

With --spans (issue 25: what the request spans cost), the app traces its requests with OpenTelemetry
(KESTREL_APP_OTEL=1, as an app whose spans tcpq links is) and GETs /ids, which answers with its own
span's ids; the phases are one EventPipe session opened exactly as tcpq opens it
(bench/dotnet/session.cs, built with `dotnet build -c Release bench/dotnet/session.cs`), without
tcpq's kernel programs, so that the difference is the session and its spans alone:
  off          no session
  session      the default session (thread pool, GC pauses, Kestrel's refusals, counters)
  spans        the same, and each request's span ids and connection (the DiagnosticSource bridge's
               HttpRequestIn.Start: one event a request), as trace --otlp-endpoint and serve
               --spans-slower-than ask for them

usage: bench/dotnet/cost.py [--spans] [ROUNDS=4] [SECONDS=5] [CONNECTIONS=8]   (as root, after scripts/setup; needs wrk)
"""
import os, re, shutil, socket, subprocess, sys, time

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
app_bin = os.path.join(root, "artifacts/bin/Tcpq.KernelTests/release/kestrel-app/kestrel-app")
tcpq = os.path.join(root, "artifacts/tcpq/tcpq")
spans = "--spans" in sys.argv
argv = [a for a in sys.argv[1:] if a != "--spans"]
rounds, seconds, conns = (int(a) for a in (argv + ["4", "5", "8"][len(argv):])[:3])
session = os.path.join(root, "artifacts/bin/release/session.dll")
path = "/ids" if spans else "/ok"
port = 24000 + os.getpid() % 1000
if not shutil.which("wrk"): sys.exit("cost.py: needs wrk (apt-get install wrk)")
for f in (app_bin,) + ((session,) if spans else (tcpq,)):
    if not os.path.exists(f): sys.exit(f"cost.py: {f} missing: run scripts/setup, dotnet build tests/Tcpq.KernelTests -c Release"
                                      + (" and dotnet build -c Release bench/dotnet/session.cs" if spans else ""))
tick = os.sysconf("SC_CLK_TCK")

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f: fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick  # utime, stime

MODES = {"off": ["--dotnet", "off"],
         "default": ["--dotnet", "{pid}"],
         "connections": ["--dotnet", "{pid}", "-e", "default,app-conn,app-close"],
         "requests": ["--dotnet", "{pid}", "-e", "all"]}

# --spans: the session alone (None: no session), ready when it says it joined
SPAN_MODES = {"off": None,
              "session": ["dotnet", session, "{pid}"],
              "spans": ["dotnet", session, "{pid}", "--request-spans"]}
if spans: MODES = SPAN_MODES

def start(mode):
    if spans:
        if MODES[mode] is None: return None
        t = subprocess.Popen([a.replace("{pid}", str(app.pid)) for a in MODES[mode]], stderr=subprocess.PIPE, text=True)
        for line in t.stderr:
            if line.startswith("session: joined"): break
        return t
    args = [a.replace("{pid}", str(app.pid)) for a in MODES[mode]]
    t = subprocess.Popen([tcpq, "trace", "-p", str(port), "-f", "none"] + args, stderr=subprocess.PIPE, text=True)
    for line in t.stderr:
        if line.startswith("tcpq: tracing"): break
    if mode != "off":
        for line in t.stderr:
            if line.startswith("tcpq: joined"): break
    return t

def phase(mode):
    t = start(mode)
    c0 = cpu_seconds(app.pid)
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    c1 = cpu_seconds(app.pid)
    if t is not None:
        t.terminate()  # SIGTERM: a background start may ignore SIGINT
        err = t.communicate(timeout=20)[1]
        if spans: print(f"  {mode}: {err.strip().splitlines()[-1] if err.strip() else '(nothing said)'}", flush=True)
    m = re.search(r"(\d+) requests in", out)
    n = int(m.group(1)) if m else 0
    return n / seconds, (c1 - c0) * 1e6 / max(n, 1)

app = subprocess.Popen([app_bin, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=dict(os.environ, DOTNET_gcServer="0", **({"KESTREL_APP_OTEL": "1"} if spans else {})))
try:
    for _ in range(100):
        try: socket.create_connection(("127.0.0.1", port)).close(); break
        except OSError: time.sleep(0.1)
    modes = list(MODES)
    print(f"warm-up: {phase('off')[0]:.0f} req/s (discarded)", flush=True)
    rates, cpus = {m: [] for m in modes}, {m: [] for m in modes}
    for r in range(rounds):
        order = modes[r % len(modes):] + modes[:r % len(modes)]
        for m in order:
            rate, cpu = phase(m)
            rates[m].append(rate); cpus[m].append(cpu)
        print(f"round {r + 1}: " + ", ".join(f"{m} {rates[m][-1]:.0f} req/s {cpus[m][-1]:.1f} us" for m in modes), flush=True)
    mean = {m: sum(v) / len(v) for m, v in rates.items()}
    cpu = {m: sum(v) / len(v) for m, v in cpus.items()}
    print("mean: " + ", ".join(f"{m} {mean[m]:.0f} req/s {cpu[m]:.1f} us CPU/request" for m in modes))
    # this box's rate drifts by 10-20 % between phases (other tenants): each round's ratio to
    # that round's own off phase, and their median, are steadier than a ratio of means
    median = lambda v: sorted(v)[len(v) // 2] if len(v) % 2 else sum(sorted(v)[len(v) // 2 - 1:len(v) // 2 + 1]) / 2
    for m in modes[1:]:
        paired = [a / b for a, b in zip(rates[m], rates["off"])]
        print(f"{m}: rate ratio {mean[m] / mean['off']:.3f} (of means), median of paired rounds {median(paired):.3f} "
              f"(range {min(paired):.2f}-{max(paired):.2f}); CPU/request ratio {cpu[m] / cpu['off']:.3f}")
    if spans:  # what the spans add to the session they come with
        paired = [a / b for a, b in zip(rates["spans"], rates["session"])]
        print(f"spans against session: rate ratio {mean['spans'] / mean['session']:.3f} (of means), median of paired rounds {median(paired):.3f} "
              f"(range {min(paired):.2f}-{max(paired):.2f}); CPU/request ratio {cpu['spans'] / cpu['session']:.3f}")
finally:
    app.kill()
