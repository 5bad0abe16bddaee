// sockops: the cost of one socket write + read on sockets tcpq does not follow, for benchmarks.
// A connected pair (AF_UNIX socketpair, or TCP over loopback with -t PORT: a listener this
// program owns, on a port tcpq does not trace), one byte written to one end and read from the
// other, N times in one thread. Each write and read passes sock_sendmsg()/sock_recvmsg(), where
// the sock_send_length / sock_recv_length tracepoints fire.
//   sockops [-n N] [-t PORT]        prints "ops=N ns_per_pair=X"
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = 200000;
	int port = 0, opt, sv[2];
	while ((opt = getopt(argc, argv, "n:t:")) != -1) {
		if (opt == 'n') n = atol(optarg);
		else if (opt == 't') port = atoi(optarg);
		else { fprintf(stderr, "usage: sockops [-n N] [-t PORT]\n"); return 2; }
	}
	if (n <= 0 || n > 100000000) return 2;
	if (!port) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) { perror("socketpair"); return 1; }
	} else {
		int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1)) { perror("listen"); return 1; }
		sv[0] = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(sv[0], (struct sockaddr *)&a, sizeof(a))) { perror("connect"); return 1; }
		sv[1] = accept(l, NULL, NULL);
		setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		close(l);
	}
	char c = 'x';
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		if (write(sv[0], &c, 1) != 1 || read(sv[1], &c, 1) != 1) { perror("io"); return 1; }
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("ops=%ld ns_per_pair=%.1f\n", n, ns / n);
	return 0;
}
