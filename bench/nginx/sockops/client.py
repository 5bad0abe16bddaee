import socket, sys
for i in range(int(sys.argv[1])):
    c = socket.create_connection(("127.0.0.1", 9555))
    c.sendall(b"GET / HTTP/1.0\r\n\r\n")
    while c.recv(100): pass
    c.close()
