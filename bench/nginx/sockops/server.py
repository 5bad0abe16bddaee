import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 9555)); s.listen(128)
print("ready", flush=True)
n = int(sys.argv[1])
for i in range(n):
    c, _ = s.accept()
    c.recv(100); c.sendall(b"HTTP/1.0 200 OK\r\n\r\nok\n"); c.close()
