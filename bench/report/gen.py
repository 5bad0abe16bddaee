#!/usr/bin/env python3
"""Writes a synthetic `tcpq trace --format csv` file of about ROWS rows to stdout: connections
to 4 listeners, most quick, some with dropped and retried SYNs, SYN-ACK retransmits, cookies
and aborts, spread over many distinct client addresses. Deterministic (seeded)."""
import random
import sys

rows_wanted = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000
rnd = random.Random(42)
out = sys.stdout
w = out.write
w("TS,Date,Action,Source IP,Source Port,Dest Port,Q0,Q,Qmax,Dest IP,Attempt,Wait us,PID,Comm,Reason\n")
D = "2026-01-01T00:00:00.000000Z"
ports = [80, 443, 2000, 8080]
rows = 0
conn = 0
t = 1_000_000_000_000
buf = []
while rows < rows_wanted:
    conn += 1
    t += rnd.randint(20_000, 200_000)  # 5k-50k new connections per second
    src = f"10.{(conn >> 16) & 255}.{(conn >> 8) & 255}.{conn & 255}"
    sp = 1024 + conn % 60000
    dp = ports[conn % 4]
    qmax = 4 if dp == 2000 else 128
    first = t
    before = len(buf)
    r = rnd.random()
    attempt = 1
    ts = t
    if r < 0.05:  # dropped twice on a full queue, then in
        for a in (1, 2):
            wait = "" if a == 1 else str((ts - first) // 1000)
            buf.append(f"{ts},{D},syn,{src},{sp},{dp},0,{qmax + 1},{qmax},10.0.0.1,{a},{wait},,,\n")
            buf.append(f"{ts + 5000},{D},syn-drop,{src},{sp},{dp},0,{qmax + 1},{qmax},10.0.0.1,{a},{wait},,,accept-queue-full\n")
            ts += 1_000_000_000 * a
        attempt = 3
    wait = "" if attempt == 1 else str((ts - first) // 1000)
    buf.append(f"{ts},{D},syn,{src},{sp},{dp},0,1,{qmax},10.0.0.1,{attempt},{wait},,,\n")
    if r > 0.99:
        buf.append(f"{ts + 3000},{D},syn-cookie,{src},{sp},{dp},{qmax},1,{qmax},10.0.0.1,{attempt},{wait},,,\n")
    if 0.97 < r <= 0.98:
        ts += 1_000_000_000
        buf.append(f"{ts},{D},synack-retrans,{src},{sp},{dp},1,1,{qmax},10.0.0.1,1,{(ts - first) // 1000},,,\n")
    est = ts + rnd.randint(30_000, 400_000)
    buf.append(f"{est},{D},syn-aa,{src},{sp},{dp},1,1,{qmax},10.0.0.1,{attempt},{(est - first) // 1000},,,\n")
    if 0.95 < r <= 0.96:
        ab = est + rnd.randint(1_000_000, 3_000_000_000)
        buf.append(f"{ab},{D},abort,{src},{sp},{dp},0,2,{qmax},10.0.0.1,{attempt},{(ab - est) // 1000},,,peer-reset\n")
    else:
        acc = est + int(rnd.expovariate(1 / 2_000_000))
        buf.append(f"{acc},{D},accept,{src},{sp},{dp},,,,10.0.0.1,{attempt},{(acc - est) // 1000},812,nginx,\n")
    rows += len(buf) - before
    if len(buf) > 4096:
        w("".join(buf))
        buf.clear()
w("".join(buf))
