#!/usr/bin/env python3
"""Test servers for tcpq's application rows (issue #13), and their client.

  appserver.py serve MODE PORT RECORD N [DELAY_S]   serve N connections on 127.0.0.1:PORT, then exit
  appserver.py client PORT N REQUEST_BYTES [PAUSE_S] [--send-at-once] [--until-eof]

Modes (every one records, per connection, one JSON line in RECORD: the client's port, bytes read,
bytes written, what happened in order, and who closed first):
  delay-read   blocking; accept, sleep DELAY, read the request, answer, read until the client closes
  delay-write  blocking; accept, read the request, sleep DELAY, answer, read until the client closes
  epoll        non-blocking sockets on epoll: a read right after accept (EAGAIN: not a read), the
               request read when epoll says so, answered, then the server closes first
  late-accept  blocking; sleep DELAY before each accept (the client has sent its request by then),
               read, answer, read until the client closes
  pool         an accept loop that hands each connection to a pool of 1 busy worker (DELAY per
               request): accepted at once, read late
Prints "listening" once it listens.
"""
import json, os, select, socket, sys, time, errno

def record(path, **kw):
    with open(path, "a") as f:
        f.write(json.dumps(kw) + "\n")

def listen(port, backlog=64):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(backlog)
    print("listening", flush=True)
    return s

def answer_for(n):
    return b"R" * (n * 2 + 7)  # a response of a size the test can check: 2 x request + 7

def blocking(mode, port, path, n, delay):
    l = listen(port)
    for _ in range(n):
        if mode == "late-accept":
            select.select([l], [], [])  # a connection is waiting in the accept queue
            time.sleep(delay)
        c, (_, cport) = l.accept()
        events = ["accept"]
        if mode == "delay-read":
            time.sleep(delay)
        req = c.recv(65536)
        events.append("read")
        if mode == "delay-write":
            time.sleep(delay)
        resp = answer_for(len(req))
        c.sendall(resp)
        events.append("write")
        got = len(req)
        while True:  # the client closes first
            more = c.recv(65536)
            if not more:
                break
            got += len(more)
        c.close()
        record(path, port=cport, bytes_in=got, bytes_out=len(resp), events=events, closer="peer")

def epoll_server(port, path, n):
    l = listen(port)
    l.setblocking(False)
    ep = select.epoll()
    ep.register(l.fileno(), select.EPOLLIN)
    conns, done = {}, 0
    while done < n:
        for fd, ev in ep.poll(5):
            if fd == l.fileno():
                while True:
                    try:
                        c, (_, cport) = l.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(False)
                    eagain = False
                    try:
                        c.recv(65536)  # nothing yet: the client sends after a pause
                    except BlockingIOError:
                        eagain = True
                    conns[c.fileno()] = (c, cport, eagain)
                    ep.register(c.fileno(), select.EPOLLIN)
            else:
                c, cport, eagain = conns.pop(fd)
                ep.unregister(fd)
                req = c.recv(65536)
                resp = answer_for(len(req))
                c.setblocking(True)
                c.sendall(resp)
                c.close()  # the server closes first
                record(path, port=cport, bytes_in=len(req), bytes_out=len(resp),
                       events=(["eagain"] if eagain else []) + ["read", "write"], closer="app")
                done += 1

def pool_server(port, path, n, delay):
    import queue, threading
    l = listen(port)
    work = queue.Queue()
    def worker():
        while True:
            c, cport = work.get()
            if c is None:
                return
            time.sleep(delay)  # busy with earlier work
            req = c.recv(65536)
            resp = answer_for(len(req))
            c.sendall(resp)
            got = len(req)
            while True:
                more = c.recv(65536)
                if not more:
                    break
                got += len(more)
            c.close()
            record(path, port=cport, bytes_in=got, bytes_out=len(resp), events=["accept", "read", "write"], closer="peer")
    t = threading.Thread(target=worker)
    t.start()
    for _ in range(n):
        c, (_, cport) = l.accept()  # accepted at once, handed off
        work.put((c, cport))
    work.put((None, None))
    t.join()

def client(port, n, size, pause, at_once, until_eof):
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        if not at_once:
            time.sleep(pause)
        c.sendall(b"Q" * size)
        want = size * 2 + 7
        got = b""
        while until_eof or len(got) < want:  # until_eof: the server closes first
            more = c.recv(65536)
            if not more:
                break
            got += more
        c.close()

def main():
    if sys.argv[1] == "serve":
        mode, port, path, n = sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
        delay = float(sys.argv[6]) if len(sys.argv) > 6 else 0
        if mode in ("delay-read", "delay-write", "late-accept"):
            blocking(mode, port, path, n, delay)
        elif mode == "epoll":
            epoll_server(port, path, n)
        elif mode == "pool":
            pool_server(port, path, n, delay)
        else:
            sys.exit("unknown mode " + mode)
    else:
        port, n, size = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        pause = float(sys.argv[5]) if len(sys.argv) > 5 and not sys.argv[5].startswith("--") else 0
        client(port, n, size, pause, "--send-at-once" in sys.argv, "--until-eof" in sys.argv)

if __name__ == "__main__":
    main()
