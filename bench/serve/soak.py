#!/usr/bin/env python3
"""tcpq serve left running under listener churn across network namespaces (issue 23: series of
closed listeners and deleted namespaces must leave /metrics; memory must not grow).

For MINUTES minutes: NAMESPACES namespaces live at once, each with LISTENERS listening sockets
(127.0.0.1, ports from 31000) each given one connection it accepts; every CHURN seconds the
oldest namespace is deleted (its listeners closed first) and a new one made in its place, with
new ports. `tcpq serve` (the built AOT binary, from the host: it sees every namespace) is
scraped every SCRAPE seconds; each scrape's series count, listeners exported, how long it took
(a reading is made for it: with --source events, the queue gauges are read in every namespace
then), tcpq's RSS (VmRSS) and peak (VmHWM) are printed as a row, and at the end the first and last minute are
compared. Bounded: at most NAMESPACES x LISTENERS sockets at once, one connection a listener.
Run under the kernel-test lock (it loads BPF programs):

  flock /tmp/tcpq-kernel-tests.lock bench/serve/soak.py [MINUTES=10] [NAMESPACES=20] [LISTENERS=30] [CHURN=2] [SCRAPE=10] [SOURCE=kernel|events]
"""
import ctypes, os, re, resource, socket, subprocess, sys, threading, time, urllib.request

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
tcpq = os.environ.get("TCPQ", os.path.join(root, "artifacts/tcpq/tcpq"))
defaults = ["10", "20", "30", "2", "10", "kernel"]
args = sys.argv[1:] + defaults[len(sys.argv) - 1:]
minutes, namespaces, listeners, churn, scrape_every = float(args[0]), int(args[1]), int(args[2]), float(args[3]), float(args[4])
source = args[5]
prefix = f"tcpqsoak{os.getpid()}-"
if not os.path.exists(tcpq): sys.exit(f"soak.py: {tcpq} missing: run scripts/setup")

libc = ctypes.CDLL(None, use_errno=True)

def status(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"): return int(line.split()[1]) * 1024
    return 0

def in_namespace(name, work):
    """Runs work() on a thread that entered the namespace (its sockets are made there)."""
    result, error = [], []
    def run():
        try:
            fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
            if libc.setns(fd, 0x40000000) != 0: raise OSError(ctypes.get_errno(), "setns")
            os.close(fd)
            result.append(work())
        except Exception as e: error.append(e)
    t = threading.Thread(target=run); t.start(); t.join()
    if error: raise error[0]
    return result[0]

class Namespace:
    def __init__(self, name, first_port):
        self.name = name
        subprocess.run(["ip", "netns", "add", name], check=True)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        def populate():
            held = []
            for i in range(listeners):
                s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", first_port + i)); s.listen(16); held.append(s)
                c = socket.create_connection(("127.0.0.1", first_port + i), timeout=10)
                a, _ = s.accept(); a.close(); c.close()
            return held
        self.sockets = in_namespace(name, populate)

    def delete(self):
        for s in self.sockets: s.close()
        subprocess.run(["ip", "netns", "del", self.name])

hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
serve, live, made = None, [], 0
try:
    serve = subprocess.Popen([tcpq, "serve", "--listen", "127.0.0.1:0", "--dotnet", "off", "--source", source],
                             stderr=subprocess.PIPE, text=True)
    url = None
    for line in serve.stderr:
        m = re.search(r"at (http://[^/]+/metrics)", line)
        if m: url = m.group(1); break
    if url is None: sys.exit("soak.py: tcpq serve did not start")
    said = []
    threading.Thread(target=lambda: [said.append(l.rstrip()) for l in serve.stderr], daemon=True).start()

    def new_namespace():
        global made
        made += 1
        return Namespace(f"{prefix}{made}", 31000 + (made * listeners) % 30000)

    for _ in range(namespaces): live.append(new_namespace())
    print(f"tcpq serve --source {source}, {namespaces} namespaces x {listeners} listeners alive, one replaced every {churn:g} s, "
          f"scraped every {scrape_every:g} s for {minutes:g} min")
    print("| t (s) | namespaces made | series | listeners exported | netns labels | scrape ms | RSS MB | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    start = time.time()
    next_scrape = start + scrape_every
    while time.time() - start < minutes * 60:
        time.sleep(churn)
        live.pop(0).delete()
        live.append(new_namespace())
        if time.time() >= next_scrape:
            next_scrape += scrape_every
            time.sleep(1.1)  # past the cached reading's second: this scrape makes a reading
            began = time.time()
            try:
                with urllib.request.urlopen(url, timeout=30) as resp: text = resp.read().decode()
            except OSError as e:
                sys.exit(f"soak.py: scrape failed ({e}); tcpq exit {serve.poll()}, said: " + " | ".join(said[-5:]))
            took_ms = (time.time() - began) * 1000
            series = sum(1 for l in text.split("\n") if l and not l.startswith("#"))
            exported = int(re.search(r"^tcpq_listeners (\d+)", text, re.M).group(1))
            netns = len(set(re.findall(r'netns="(\d+)"', text)))
            row = (time.time() - start, made, series, exported, netns, status(serve.pid, "VmRSS"), status(serve.pid, "VmHWM"), took_ms)
            rows.append(row)
            print(f"| {row[0]:.0f} | {row[1]} | {row[2]} | {row[3]} | {row[4]} | {row[7]:.0f} | {row[5] / 2**20:.1f} | {row[6] / 2**20:.1f} |", flush=True)
    if len(rows) >= 2:
        span = max(1, int(60 / scrape_every))
        first, last = rows[:span], rows[-span:]
        avg = lambda rs, i: sum(r[i] for r in rs) / len(rs)
        print(f"first minute: {avg(first, 2):.0f} series, RSS {avg(first, 5) / 2**20:.1f} MB; "
              f"last minute: {avg(last, 2):.0f} series, RSS {avg(last, 5) / 2**20:.1f} MB; "
              f"scrape {sorted(r[7] for r in rows)[len(rows) // 2]:.0f} ms median; "
              f"{made} namespaces and {made * listeners} listeners made in all; peak RSS {rows[-1][6] / 2**20:.1f} MB")
    for line in said[-5:]: print("  tcpq:", line)
finally:
    for n in live: n.delete()
    if serve: serve.terminate(); serve.wait(20)
