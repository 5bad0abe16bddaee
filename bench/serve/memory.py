#!/usr/bin/env python3
"""tcpq serve's peak memory under many listeners and many scrapers at once (issue 23: at most
128 MB with 1100 listeners and 16 scrapers; the hand-written endpoint peaked at 240-362 MB).

In a private network namespace: LISTENERS listening sockets (127.0.0.1, consecutive ports), each
given CONNS connections that it accepts, so that every listener has counters, drop-free queues
and filled histograms (about 50 series each). Then `tcpq serve` (the built AOT binary, from the
host: it sees the namespace) with the given source, and SCRAPERS threads that scrape /metrics at
once, ROUNDS times each, half of them asking for gzip. Prints the exposition's size and series,
the scrapes' outcome, and tcpq's peak RSS (VmHWM of /proc/PID/status) before and after the
scrapes. Bounded: LISTENERS x CONNS connections, SCRAPERS x ROUNDS scrapes, 30 s timeouts.
Run under the kernel-test lock (it loads BPF programs):

  flock /tmp/tcpq-kernel-tests.lock bench/serve/memory.py [LISTENERS=1100] [SCRAPERS=16] [ROUNDS=20] [SOURCE=kernel|events]
"""
import ctypes, os, re, resource, socket, subprocess, sys, threading, time, urllib.request, gzip

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
tcpq = os.environ.get("TCPQ", os.path.join(root, "artifacts/tcpq/tcpq"))  # TCPQ=another build to compare
args = sys.argv[1:] + ["1100", "16", "20", "kernel"][len(sys.argv) - 1:]
listeners, scrapers, rounds, source = int(args[0]), int(args[1]), int(args[2]), args[3]
conns = 2
base = 30000
ns = f"tcpqmem{os.getpid()}"
if not os.path.exists(tcpq): sys.exit(f"memory.py: {tcpq} missing: run scripts/setup")

def rss(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"): return int(line.split()[1]) * 1024
    return 0

def enter(ns_name):
    fd = os.open(f"/run/netns/{ns_name}", os.O_RDONLY)
    if ctypes.CDLL(None, use_errno=True).setns(fd, 0x40000000) != 0:  # CLONE_NEWNET, this thread only (and the sockets it makes)
        sys.exit(f"memory.py: setns: errno {ctypes.get_errno()}")
    os.close(fd)

subprocess.run(["ip", "netns", "add", ns], check=True)
serve = None
try:
    subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a socket per listener
    serve = subprocess.Popen([tcpq, "serve", "--listen", "127.0.0.1:0", "--dotnet", "off", "--source", source]
                             + (["--max-listeners", "4096"] if source == "events" else []),
                             stderr=subprocess.PIPE, text=True)
    url = None
    for line in serve.stderr:
        m = re.search(r"at (http://[^/]+/metrics)", line)
        if m: url = m.group(1); break
    if url is None: sys.exit("memory.py: tcpq serve did not start")
    threading.Thread(target=lambda: [None for _ in serve.stderr], daemon=True).start()

    # the listeners and their connections, made in the namespace by a thread that entered it
    held = []
    def populate():
        enter(ns)
        for i in range(listeners):
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", base + i)); s.listen(64); held.append(s)
        for i, s in enumerate(held[:listeners]):
            for _ in range(conns):
                c = socket.create_connection(("127.0.0.1", base + i), timeout=30)
                a, _ = s.accept(); a.close(); c.close()
    t = threading.Thread(target=populate); t.start(); t.join()
    time.sleep(2)  # let the reading age out, so the scrapes below see every listener
    before = rss(serve.pid, "VmHWM")

    sizes, errors, lock = [], [], threading.Lock()
    def scrape(n):
        for r in range(rounds):
            req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if n % 2 else {})
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    body = resp.read()
                    if resp.headers.get("Content-Encoding") == "gzip": body = gzip.decompress(body)
                with lock: sizes.append(len(body))
                if r == 0 and n == 0:
                    with lock: sizes_first.append(body)
            except Exception as e:
                with lock: errors.append(repr(e))
    sizes_first = []
    threads = [threading.Thread(target=scrape, args=(n,)) for n in range(scrapers)]
    start = time.time()
    for th in threads: th.start()
    for th in threads: th.join()
    took = time.time() - start
    peak = rss(serve.pid, "VmHWM")
    text = sizes_first[0].decode() if sizes_first else ""
    series = sum(1 for l in text.split("\n") if l and not l.startswith("#"))
    exported = re.search(r"^tcpq_listeners (\d+)", text, re.M)
    print(f"listeners {listeners} (exported {exported.group(1) if exported else '?'}, source {source}), "
          f"exposition {max(sizes) / 1e6 if sizes else 0:.1f} MB, {series} series")
    print(f"scrapes {len(sizes)} ok, {len(errors)} failed, {scrapers} at once x {rounds}, {took:.1f} s")
    print(f"tcpq serve peak RSS: {before / 2**20:.0f} MB before the scrapes, {peak / 2**20:.0f} MB after")
    for e in errors[:3]: print("  error:", e)
finally:
    if serve: serve.terminate(); serve.wait(20)
    subprocess.run(["ip", "netns", "del", ns])
