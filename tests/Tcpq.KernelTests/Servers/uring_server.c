#define _GNU_SOURCE
/* Test servers on io_uring (liburing), in two families:
 *
 *   uring_server PORT RECORD N
 *     issue #13, the application's rows: accept4() blocking, then the request is read and the
 *     answer written through io_uring (IORING_OP_RECV / IORING_OP_SEND, no read or write syscall
 *     per operation), then the server closes first. One JSON line per connection in RECORD.
 *
 *   uring_server PORT RECORD N single|multishot|direct
 *     issue #22, accepts made by io_uring (IORING_OP_ACCEPT, no accept syscall). The server waits
 *     for "go" on stdin (the test has queued connections by then), arms its accepts, says "armed"
 *     once the first accept that must wait for a connection is in the kernel, and serves N
 *     connections: each client sends its own port in decimal, which the server reads through
 *     io_uring and records with the pid and comm it runs as, the CLOCK_MONOTONIC times before it
 *     submitted the accept and after it reaped its completion (the kernel's clock, as tcpq's
 *     rows' ts), how it was accepted and the completion's res; then closes it.
 *       single     one IORING_OP_ACCEPT at a time, N = 4: a connection already queued (the accept
 *                  completes as it is submitted), one whose completion overflows a full CQ ring,
 *                  one that arrives later (the accept waits in poll), one accepted by an io-wq
 *                  worker (IOSQE_ASYNC)
 *       multishot  one multishot accept (IORING_ACCEPT_MULTISHOT) on a DEFER_TASKRUN ring, every
 *                  connection a completion with IORING_CQE_F_MORE, cancelled at the end
 *       direct     on an SQPOLL ring with 8 fixed-file slots: the first connection into slot 5
 *                  (res 0), the others by a multishot accept into slots io_uring picks (res the
 *                  slot); read and closed through the slot, never an fd
 * Prints "listening" once it listens. Every wait is bounded (alarm). */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
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

static int listen_on(int port)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 64)) {
		perror("listen");
		exit(1);
	}
	return l;
}

static void fail(const char *what, int err)
{
	fprintf(stderr, "uring_server: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* ---- issue #13: the application's reads and writes through io_uring ---- */

static int app_server(int port, FILE *rec, int n)
{
	int l = listen_on(port);
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

/* ---- issue #22: accepts made by io_uring ---- */

enum { TAG_ACCEPT = 1, TAG_RECV, TAG_CLOSE, TAG_NOP, TAG_CANCEL };
#define UD(tag, i) ((__u64)(tag) << 32 | (__u32)(i))
#define TAG(ud) ((int)((ud) >> 32))
#define MAX_CONNS 16
#define DIRECT_SLOTS 8
#define CHOSEN_SLOT 5

struct served {
	int target;  /* the fd, or the fixed-file slot */
	int direct;
	int res;
	long long armed_ns, accepted_ns;
	const char *how;
	int overflowed;
	char buf[32];
};

static struct io_uring ring;
static FILE *rec;
static char comm[17];
static struct served conns[MAX_CONNS];
static int listener, accepted, recorded;
static int overflowed; /* the accept being run had its completion overflow the CQ ring */

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static struct io_uring_sqe *sqe_for(__u64 user_data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	if (!sqe)
		fail("no free SQE", EBUSY);
	io_uring_sqe_set_data64(sqe, user_data);
	return sqe;
}

/* An accept's completion: the connection's fd or slot; then read the port its client sends. */
static void on_accepted(int res, int direct, int chosen_slot, long long armed_ns, const char *how)
{
	if (res < 0)
		fail("accept", res);
	if (accepted >= MAX_CONNS)
		fail("too many connections", E2BIG);
	struct served *c = &conns[accepted];
	*c = (struct served){ .target = direct && chosen_slot >= 0 ? chosen_slot : res, .direct = direct, .res = res,
			      .armed_ns = armed_ns, .accepted_ns = now_ns(), .how = how, .overflowed = overflowed };
	struct io_uring_sqe *sqe = sqe_for(UD(TAG_RECV, accepted));
	io_uring_prep_recv(sqe, c->target, c->buf, sizeof(c->buf) - 1, 0);
	if (direct)
		sqe->flags |= IOSQE_FIXED_FILE;
	accepted++;
}

/* The client's port read: record the connection and close it. */
static void on_read(int i, int res)
{
	if (res <= 0)
		fail("recv", res ? res : EPIPE);
	struct served *c = &conns[i];
	c->buf[res] = 0;
	fprintf(rec, "{\"port\": %d, \"pid\": %d, \"comm\": \"%s\", \"armed_ns\": %lld, \"accepted_ns\": %lld, \"how\": \"%s\", \"res\": %d, \"overflowed\": %s}\n",
		atoi(c->buf), getpid(), comm, c->armed_ns, c->accepted_ns, c->how, c->res, c->overflowed ? "true" : "false");
	fflush(rec);
	recorded++;
	if (c->direct)
		io_uring_prep_close_direct(sqe_for(UD(TAG_CLOSE, i)), c->target);
	else
		close(c->target);
}

/* Reaps one completion (submitting what is queued first) and acts on it; returns its tag. */
static int step(long long armed_ns, const char *how, int direct, int chosen_slot, int *res)
{
	struct io_uring_cqe *cqe;
	int ret = io_uring_submit_and_wait(&ring, 1);
	if (ret < 0)
		fail("submit", ret);
	if ((ret = io_uring_wait_cqe(&ring, &cqe)) < 0)
		fail("wait", ret);
	__u64 ud = cqe->user_data;
	*res = cqe->res;
	unsigned flags = cqe->flags;
	io_uring_cqe_seen(&ring, cqe);
	switch (TAG(ud)) {
	case TAG_ACCEPT:
		if (*res >= 0) {
			if ((!strcmp(how, "multishot") || !strcmp(how, "alloc")) && !(flags & IORING_CQE_F_MORE))
				fail("a multishot accept ended early", EPROTO);
			on_accepted(*res, direct, chosen_slot, armed_ns, how);
		}
		break;
	case TAG_RECV:
		on_read((__u32)ud, *res);
		break;
	case TAG_CLOSE:
		if (*res < 0)
			fail("close_direct", *res);
		break;
	}
	return TAG(ud);
}

/* One single-shot accept submitted with these SQE flags, run until its connection is recorded. */
static void run_single_accept(const char *how, unsigned sqe_flags, int say_armed)
{
	int res, target = recorded + 1;
	long long armed = now_ns();
	struct io_uring_sqe *sqe = sqe_for(UD(TAG_ACCEPT, accepted));
	io_uring_prep_accept(sqe, listener, NULL, NULL, 0);
	sqe->flags |= sqe_flags;
	if (io_uring_submit(&ring) < 0)
		fail("submit accept", EIO);
	if (say_armed) {
		printf("armed\n");
		fflush(stdout);
	}
	while (recorded < target)
		step(armed, how, 0, -1, &res);
}

static void serve_single(int n)
{
	if (n != 4)
		fail("single serves 4 connections", EINVAL);
	run_single_accept("queued", 0, 0);

	/* fill the CQ ring with nops left unreaped, so that the next accept's completion overflows */
	unsigned cq = *ring.cq.kring_entries;
	for (unsigned i = 0; i < cq; i++)
		io_uring_prep_nop(sqe_for(UD(TAG_NOP, i)));
	if (io_uring_submit_and_wait(&ring, cq) < 0)
		fail("submit nops", EIO);
	int res, target = recorded + 1;
	long long armed = now_ns();
	io_uring_prep_accept(sqe_for(UD(TAG_ACCEPT, accepted)), listener, NULL, NULL, 0);
	if (io_uring_submit(&ring) < 0)
		fail("submit accept", EIO);
	/* the kernel says so: its CQE waits in the overflow list */
	overflowed = io_uring_cq_has_overflow(&ring);
	while (recorded < target)
		step(armed, "overflow", 0, -1, &res);
	overflowed = 0;

	run_single_accept("polled", 0, 1);
	run_single_accept("async", IOSQE_ASYNC, 0);
}

static void serve_multishot(int n, int direct)
{
	int res;
	long long armed = now_ns();
	if (direct) {
		/* the first connection into a slot of our choosing: its completion's res is 0 */
		struct io_uring_sqe *sqe = sqe_for(UD(TAG_ACCEPT, accepted));
		io_uring_prep_accept_direct(sqe, listener, NULL, NULL, 0, CHOSEN_SLOT);
		while (recorded < 1)
			step(armed, "slot", 1, CHOSEN_SLOT, &res);
		armed = now_ns();
	}
	struct io_uring_sqe *sqe = sqe_for(UD(TAG_ACCEPT, 999));
	if (direct)
		io_uring_prep_multishot_accept_direct(sqe, listener, NULL, NULL, 0);
	else
		io_uring_prep_multishot_accept(sqe, listener, NULL, NULL, 0);
	if (io_uring_submit(&ring) < 0)
		fail("submit multishot accept", EIO);
	printf("armed\n");
	fflush(stdout);
	while (recorded < n)
		step(armed, direct ? "alloc" : "multishot", direct, -1, &res);

	/* cancel it: its last completion, -ECANCELED, with no IORING_CQE_F_MORE */
	io_uring_prep_cancel64(sqe_for(UD(TAG_CANCEL, 0)), UD(TAG_ACCEPT, 999), 0);
	for (int ended = 0, cancelled = 0; !ended || !cancelled;) {
		int tag = step(armed, "none", direct, -1, &res);
		if (tag == TAG_ACCEPT && res == -ECANCELED)
			ended = 1;
		else if (tag == TAG_CANCEL)
			cancelled = 1;
	}
}

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 5)
		return 2;
	int port = atoi(argv[1]), n = atoi(argv[3]);
	rec = fopen(argv[2], "a");
	if (!rec)
		return 1;
	if (argc == 4)
		return app_server(port, rec, n);
	const char *mode = argv[4];
	if (n < 1 || n > MAX_CONNS)
		return 2;
	alarm(60);
	prctl(PR_GET_NAME, comm);
	listener = listen_on(port);

	struct io_uring_params p = { 0 };
	if (!strcmp(mode, "single")) {
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = 8;
	} else if (!strcmp(mode, "multishot")) {
		p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	} else if (!strcmp(mode, "direct")) {
		p.flags = IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 100;
	} else {
		return 2;
	}
	int ret = io_uring_queue_init_params(8, &ring, &p);
	if (ret)
		fail("io_uring_queue_init_params", ret);
	if (!strcmp(mode, "direct") && (ret = io_uring_register_files_sparse(&ring, DIRECT_SLOTS)))
		fail("io_uring_register_files_sparse", ret);
	printf("listening\n");
	fflush(stdout);

	char go[8];
	if (!fgets(go, sizeof(go), stdin) || strcmp(go, "go\n"))
		fail("expected go on stdin", EINVAL);
	if (!strcmp(mode, "single"))
		serve_single(n);
	else
		serve_multishot(n, !strcmp(mode, "direct"));
	io_uring_queue_exit(&ring);
	return 0;
}
