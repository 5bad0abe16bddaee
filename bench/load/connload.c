// connload: connect/accept/close on loopback as fast as the machine allows, for benchmarks.
// Bounded in count and time; meant to run inside a private network namespace (bench/run).
//   connload -p PORT -t CLIENT_THREADS -n MAX_CONNECTIONS -d SECONDS [-b BACKLOG] [-w WINDOW] [-x BYTES]
// -x BYTES: a small request/response exchange per connection: the client sends BYTES, the server
// reads them and writes BYTES back, the client reads them, then closes (tcpq's first-read,
// first-write and close rows each have something to see).
// Clients keep at most WINDOW connections (default: half the backlog) connected but not yet
// accepted: the accept queue never overflows, so the rate measures CPU cost, not the 1 s SYN
// retransmissions of clients whose SYN met a full queue (one such drop stalls a client thread for
// a quarter of a 4 s run). -w 0 turns the window off (open loop).
// Prints one line: "connections=N seconds=S rate=R failed=F accepted=A" (A: accept() calls that
// returned a connection; the ones still queued when it stops are never accepted).
// Built with -DCONNLOAD_URING -luring (bench/uring/run), -u makes the server accept through one
// multishot io_uring accept instead of accept4() (no accept syscall; issue 22); not with -x.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef CONNLOAD_URING
#include <liburing.h>
#endif

static int port = 9100, threads = 4, backlog = 4096, window = -1, exchange = 0, uring = 0;
static long max_conns = 1000000;
static double seconds = 5.0;
static atomic_long done, failed, accepted, connected;
static atomic_int stop;
static int listen_fd;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *server(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			break;
		}
		atomic_fetch_add(&accepted, 1);
		if (exchange > 0) {
			char buf[4096];
			struct timeval tv = { 1, 0 }; /* bounded: a client stopped mid-exchange */
			setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			int got = 0;
			while (got < exchange) {
				ssize_t n = recv(c, buf, sizeof(buf), 0);
				if (n <= 0)
					break;
				got += n;
			}
			if (got >= exchange)
				send(c, buf, exchange, MSG_NOSIGNAL);
		}
		close(c);
	}
	return NULL;
}

#ifdef CONNLOAD_URING
/* -u: one multishot IORING_OP_ACCEPT, re-armed if the kernel ends it; each connection closed.
 * At the end it is cancelled and its completions counted up to its last, so that `accepted` is
 * every connection the kernel accepted for it (what a tracer of accepts should count). */
enum { UD_ACCEPT = 1, UD_CANCEL = 2 };
static void *uring_server(void *arg)
{
	(void)arg;
	struct io_uring ring;
	if (io_uring_queue_init(256, &ring, 0)) {
		fprintf(stderr, "connload: io_uring_queue_init failed\n");
		exit(1);
	}
	int armed = 0, cancelling = 0, cancelled = 0;
	struct __kernel_timespec tick = { 0, 100000000 };
	for (int idle = 0; idle < 50;) { /* bounded: 5 s without a completion while cancelling */
		if (atomic_load(&stop) && !cancelling) {
			if (!armed)
				break;
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			io_uring_prep_cancel64(sqe, UD_ACCEPT, 0);
			io_uring_sqe_set_data64(sqe, UD_CANCEL);
			io_uring_submit(&ring);
			cancelling = 1;
		}
		if (cancelling && !armed && cancelled)
			break;
		if (!armed && !cancelling) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, SOCK_CLOEXEC);
			io_uring_sqe_set_data64(sqe, UD_ACCEPT);
			io_uring_submit(&ring);
			armed = 1;
		}
		struct io_uring_cqe *cqe;
		int ret = io_uring_wait_cqe_timeout(&ring, &cqe, &tick);
		if (ret == -ETIME || ret == -EINTR) {
			idle += cancelling;
			continue;
		}
		if (ret < 0)
			break;
		int fd = cqe->res;
		__u64 ud = cqe->user_data;
		if (ud == UD_CANCEL)
			cancelled = 1;
		else if (!(cqe->flags & IORING_CQE_F_MORE))
			armed = 0;
		io_uring_cqe_seen(&ring, cqe);
		if (ud == UD_ACCEPT && fd >= 0) {
			atomic_fetch_add(&accepted, 1);
			close(fd);
		}
	}
	io_uring_queue_exit(&ring);
	return NULL;
}
#endif

static void *client(void *arg)
{
	(void)arg;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct linger lg = { 1, 0 }; /* RST on close: no TIME_WAIT exhausting the ports */
	while (!atomic_load(&stop)) {
		if (atomic_fetch_add(&done, 1) >= max_conns) {
			atomic_fetch_sub(&done, 1);
			break;
		}
		while (window > 0 && atomic_load(&connected) - atomic_load(&accepted) >= window &&
		       !atomic_load(&stop))
			sched_yield();
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0 || connect(s, (struct sockaddr *)&to, sizeof(to)) != 0) {
			atomic_fetch_add(&failed, 1);
			atomic_fetch_sub(&done, 1);
		} else {
			atomic_fetch_add(&connected, 1);
			if (exchange > 0) {
				char buf[4096] = { 'q' };
				int got = 0;
				/* bounded: the server stops accepting at the end of the run */
				struct timeval tv = { 1, 0 };
				setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
				if (send(s, buf, exchange, MSG_NOSIGNAL) == exchange)
					while (got < exchange) {
						ssize_t n = recv(s, buf, sizeof(buf), 0);
						if (n <= 0)
							break;
						got += n;
					}
			}
		}
		if (s >= 0) {
			setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(s);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int opt;
	while ((opt = getopt(argc, argv, "p:t:n:d:b:w:x:u")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'n': max_conns = atol(optarg); break;
		case 'd': seconds = atof(optarg); break;
		case 'b': backlog = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'x': exchange = atoi(optarg); if (exchange > 4096) exchange = 4096; break;
#ifdef CONNLOAD_URING
		case 'u': uring = 1; break;
#endif
		default:
			fprintf(stderr, "usage: connload -p PORT -t THREADS -n MAX -d SECONDS [-b BACKLOG] [-w WINDOW] [-x BYTES]\n");
			return 2;
		}
	}
	if (seconds <= 0 || seconds > 600 || max_conns <= 0 || threads < 1 || threads > 64 || (uring && exchange)) {
		fprintf(stderr, "connload: bounds: 0 < seconds <= 600, max > 0, 1 <= threads <= 64; -u without -x\n");
		return 2;
	}
	if (window < 0)
		window = backlog / 2;
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) || listen(listen_fd, backlog)) {
		perror("connload: listen");
		return 1;
	}
	struct timeval tv = { 0, 100000 };
	setsockopt(listen_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	pthread_t srv, cl[64];
#ifdef CONNLOAD_URING
	pthread_create(&srv, NULL, uring ? uring_server : server, NULL);
#else
	pthread_create(&srv, NULL, server, NULL);
#endif
	double t0 = now();
	for (int i = 0; i < threads; i++)
		pthread_create(&cl[i], NULL, client, NULL);
	while (now() - t0 < seconds && atomic_load(&done) < max_conns)
		usleep(10000);
	atomic_store(&stop, 1);
	for (int i = 0; i < threads; i++)
		pthread_join(cl[i], NULL);
	double t = now() - t0;
	pthread_join(srv, NULL);
	long n = atomic_load(&done);
	printf("connections=%ld seconds=%.3f rate=%.0f failed=%ld accepted=%ld\n", n, t, n / t, atomic_load(&failed), atomic_load(&accepted));
	return 0;
}
