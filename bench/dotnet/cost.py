#!/usr/bin/env python3
"""The EventPipe session's cost on the target app's request rate (issue #14: under 3 %).

Runs the kernel tests' ASP.NET Core app (tests/Tcpq.KestrelApp, built by `dotnet build
tests/Tcpq.KernelTests -c Release`) on 127.0.0.1, drives keep-alive GET /ok requests from N
client threads, and alternates phases in one run: tcpq trace --dotnet off, then --dotnet PID (the
same kernel programs both times, so the difference is the session alone: Kestrel's connection and
request events, the runtime's GC/thread-pool events, the counters). Prints each phase's rate and
the ratio of the means. Bounded: ROUNDS x 2 phases of SECONDS each.

usage: bench/dotnet/cost.py [ROUNDS=4] [SECONDS=5] [CLIENTS=8]   (as root, after scripts/setup)
"""
import os, socket, subprocess, sys, threading, time

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
app_bin = os.path.join(root, "artifacts/bin/Tcpq.KernelTests/release/kestrel-app/kestrel-app")
tcpq = os.path.join(root, "artifacts/tcpq/tcpq")
rounds, seconds, clients = (int(a) for a in (sys.argv[1:] + ["4", "5", "8"][len(sys.argv) - 1:])[:3])
port = 24000 + os.getpid() % 1000

def client(stop, counts, i):
    s = socket.create_connection(("127.0.0.1", port))
    req = b"GET /ok HTTP/1.1\r\nHost: b\r\n\r\n"
    n = 0
    while not stop.is_set():
        s.sendall(req)
        buf = b""
        while not buf.endswith(b"0\r\n\r\n") and b"\r\n\r\nok\n" not in buf:
            chunk = s.recv(4096)
            if not chunk: return
            buf += chunk
        n += 1
    counts[i] = n
    s.close()

def phase(dotnet):
    t = subprocess.Popen([tcpq, "trace", "-p", str(port), "-f", "none", "--dotnet", dotnet], stderr=subprocess.PIPE, text=True)
    for line in t.stderr:
        if line.startswith("tcpq: tracing"): break
    if dotnet != "off":
        for line in t.stderr:
            if line.startswith("tcpq: joined"): break
    stop, counts = threading.Event(), [0] * clients
    threads = [threading.Thread(target=client, args=(stop, counts, i)) for i in range(clients)]
    [th.start() for th in threads]
    time.sleep(seconds)
    stop.set()
    [th.join() for th in threads]
    t.send_signal(2); t.communicate(timeout=20)
    return sum(counts) / seconds

app = subprocess.Popen([app_bin, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, DOTNET_gcServer="0"))
try:
    for _ in range(100):
        try: socket.create_connection(("127.0.0.1", port)).close(); break
        except OSError: time.sleep(0.1)
    off, on = [], []
    for r in range(rounds):
        off.append(phase("off")); on.append(phase(str(app.pid)))
        print(f"round {r + 1}: off {off[-1]:.0f} req/s, session {on[-1]:.0f} req/s", flush=True)
    mo, mn = sum(off) / rounds, sum(on) / rounds
    print(f"mean: off {mo:.0f} req/s, session {mn:.0f} req/s, ratio {mn / mo:.4f} (cost {100 * (1 - mn / mo):.2f} %)")
finally:
    app.kill()
