"""An OTLP/HTTP receiver over https for the image test: prints "POST <path> <bytes>" per request
and answers 200, until it has seen COUNT requests or 30 s passed. Usage: https_receiver.py PORT CERT KEY COUNT"""
import http.server
import ssl
import sys
import time


posts = 0


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global posts
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        print("POST", self.path, len(body), flush=True)
        posts += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


port, cert, key, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
server = http.server.HTTPServer(("127.0.0.1", port), Receiver)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.timeout = 1
print("listening", flush=True)
deadline = time.monotonic() + 30
while posts < count and time.monotonic() < deadline:
    server.handle_request()  # a client that refuses our certificate fails its handshake: no post
