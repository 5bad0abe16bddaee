#!/usr/bin/env python3
"""bench/nginx/histerr's report: the histograms of two `tcpq serve` scrapes of the same load, the
sampled one (--source kernel) against the exact one (--source events).
Usage: histerr.py KERNEL_PROM EVENTS_PROM PORT SAMPLE REQUESTS"""
import re
import sys
from collections import defaultdict

kernel_path, events_path, port, sample, requests = sys.argv[1:6]
LINE = re.compile(r'^([a-z_]+)(?:\{([^}]*)\})? ([0-9.e+-]+|\+Inf|NaN)$')


def parse(path):
    """{metric: {le or '': value}} for the port's series (labels other than le summed over)."""
    out = defaultdict(lambda: defaultdict(float))
    for line in open(path):
        m = LINE.match(line.strip())
        if not m:
            continue
        name, labels, value = m.groups()
        labels = labels or ""
        if labels and f'server_port="{port}"' not in labels:
            continue
        le = re.search(r'le="([^"]*)"', labels)
        out[name][le.group(1) if le else ""] += float(value)
    return out


def buckets(metrics, name):
    b = metrics.get(name + "_bucket", {})
    return sorted(((float("inf") if le == "+Inf" else float(le)), n) for le, n in b.items())


def quantile(bs, q):
    """Prometheus's histogram_quantile: linear within the bucket."""
    total = bs[-1][1] if bs else 0
    if not total:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for le, n in bs:
        if n >= rank:
            if le == float("inf"):
                return lower
            return lower + (le - lower) * (rank - below) / max(n - below, 1e-12)
        lower, below = le, n
    return lower


def ks(a, b):
    """The largest gap between the two cumulative distributions at a bucket bound."""
    ta, tb = a[-1][1], b[-1][1]
    db = dict(b)
    return max(abs(n / ta - db.get(le, 0) / tb) for le, n in a) if ta and tb else None


def us(x):
    return "-" if x is None else (f"{x * 1e6:,.0f} µs" if x < 0.01 else f"{x * 1e3:,.1f} ms")


k, e = parse(kernel_path), parse(events_path)
ratio = k.get("tcpq_latency_sample_ratio", {}).get("")
print(f"`tcpq serve` (--source kernel, --latency-sample {sample}) against `tcpq serve --source events` "
      f"(every accept), both on the same nginx load at once ({int(float(requests or 0)):,} requests, ab -c 32); "
      f"tcpq_latency_sample_ratio {ratio:.3f}." if ratio is not None else "")
print()
print("| histogram | source | count | mean | p50 | p90 | p99 | largest CDF gap (KS) |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for name in ("tcpq_accept_queue_wait_seconds", "tcpq_handshake_duration_seconds"):
    bk, be = buckets(k, name), buckets(e, name)
    gap = ks(bk, be) if bk and be else None
    for label, m, bs in (("kernel, sampled" if "queue" in name else "kernel", k, bk), ("events, exact", e, be)):
        count, total = m.get(name + "_count", {}).get("", 0), m.get(name + "_sum", {}).get("", 0)
        qs = [quantile(bs, q) for q in (0.5, 0.9, 0.99)]
        print(f"| `{name}` | {label} | {count:,.0f} | {us(total / count if count else None)} | "
              + " | ".join(us(x) for x in qs) + f" | {'' if label.startswith('events') or gap is None else f'{gap:.3f}'} |")
