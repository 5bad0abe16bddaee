#!/usr/bin/env python3
"""A local OTLP/HTTP receiver for bench/run's tcpq-otlp mode: takes every POST to /v1/traces
(protobuf), answers 200 with an empty ExportTraceServiceResponse, and counts requests and bytes.
It keeps nothing and parses nothing, so what it costs is reading the bytes: the benchmark measures
tcpq sending spans, not a backend storing them (the Aspire dashboard does that in the tests).

  otlp_sink.py PORT STATS_FILE    serves on 127.0.0.1:PORT until SIGINT/SIGTERM, then writes
                                  "requests=N bytes=N" to STATS_FILE
"""
import http.server
import signal
import sys

requests = 0
received = 0


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the exporter's HttpClient expects

    def do_POST(self):
        global requests, received
        n = int(self.headers.get("Content-Length", "0"))
        while n > 0:
            chunk = self.rfile.read(min(n, 1 << 20))
            if not chunk:
                break
            n -= len(chunk)
            received += len(chunk)
        requests += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    port, stats = int(sys.argv[1]), sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Sink)

    def stop(*_):
        with open(stats, "w") as f:
            f.write(f"requests={requests} bytes={received}\n")
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"otlp sink on 127.0.0.1:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
