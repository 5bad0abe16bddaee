#define _GNU_SOURCE
/* A test server for tcpq's application rows (issue #13): accept4() blocking, then the request is
 * read and the answer written through io_uring (liburing: IORING_OP_RECV / IORING_OP_SEND, no
 * read or write syscall per operation), then the server closes first.
 *   uring_server PORT RECORD N
 * Records one JSON line per connection in RECORD; prints "listening" once it listens. */
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int wait_one(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	if (io_uring_submit_and_wait(ring, 1) < 0 || io_uring_wait_cqe(ring, &cqe) < 0)
		return -1;
	int res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	int port = atoi(argv[1]), n = atoi(argv[3]);
	FILE *rec = fopen(argv[2], "a");
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (!rec || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 64)) {
		perror("listen");
		return 1;
	}
	struct io_uring ring;
	if (io_uring_queue_init(8, &ring, 0)) {
		fprintf(stderr, "io_uring_queue_init failed\n");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	static char buf[65536], resp[65536 * 2 + 7];
	for (int i = 0; i < n; i++) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		int c = accept4(l, (struct sockaddr *)&peer, &plen, 0);
		if (c < 0)
			return 1;
		io_uring_prep_recv(io_uring_get_sqe(&ring), c, buf, sizeof(buf), 0);
		int got = wait_one(&ring);
		if (got < 0)
			return 1;
		int want = got * 2 + 7;
		memset(resp, 'R', want);
		io_uring_prep_send(io_uring_get_sqe(&ring), c, resp, want, 0);
		int sent = wait_one(&ring);
		close(c);
		fprintf(rec, "{\"port\": %d, \"bytes_in\": %d, \"bytes_out\": %d, \"events\": [\"read\", \"write\"], \"closer\": \"app\"}\n",
			ntohs(peer.sin_port), got, sent);
		fflush(rec);
	}
	io_uring_queue_exit(&ring);
	return 0;
}
