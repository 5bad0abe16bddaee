// uringops: a busy io_uring ring, for what tcpq's io_uring hooks cost every io_uring operation of
// the machine (issue 22). One thread, one ring, N operations of one kind, then
// "ops=N ns_per_op=X" (wall time per operation).
//   uringops -m nop  [-n N] [-b B]   IORING_OP_NOP in batches of B (default 32): one submit and
//                                    wait per batch, every CQE with its request (io_fill_cqe_req)
//   uringops -m read [-n N] [-b B]   IORING_OP_READ of 64 bytes from /dev/zero, batched (completed
//                                    inline, as a read from the page cache is)
//   uringops -m poll [-n N]          one multishot IORING_OP_POLL_ADD on an eventfd; each operation
//                                    is a write to the eventfd, the poll's wake-up (task work) and a
//                                    CQE without its request (io_fill_cqe_aux, IORING_CQE_F_MORE):
//                                    the path of a multishot accept's completions
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void reap(struct io_uring *ring, unsigned n)
{
	struct io_uring_cqe *cqe;
	for (unsigned i = 0; i < n; i++) {
		if (io_uring_wait_cqe(ring, &cqe) || cqe->res < 0) {
			fprintf(stderr, "uringops: completion failed\n");
			exit(1);
		}
		io_uring_cqe_seen(ring, cqe);
	}
}

int main(int argc, char **argv)
{
	long n = 1000000;
	unsigned batch = 32;
	const char *mode = "nop";
	int opt;
	while ((opt = getopt(argc, argv, "n:b:m:")) != -1) {
		if (opt == 'n') n = atol(optarg);
		else if (opt == 'b') batch = atoi(optarg);
		else if (opt == 'm') mode = optarg;
		else { fprintf(stderr, "usage: uringops -m nop|read|poll [-n N] [-b B]\n"); return 2; }
	}
	if (n <= 0 || n > 100000000 || batch < 1 || batch > 256) return 2;
	int read_mode = !strcmp(mode, "read"), poll_mode = !strcmp(mode, "poll");
	if (!read_mode && !poll_mode && strcmp(mode, "nop")) return 2;

	struct io_uring ring;
	if (io_uring_queue_init(256, &ring, 0)) { fprintf(stderr, "uringops: io_uring_queue_init failed\n"); return 1; }
	static char buf[256][64];
	int fd = -1;
	if (read_mode) {
		fd = open("/dev/zero", O_RDONLY);
		if (fd < 0) { perror("open"); return 1; }
	}
	if (poll_mode) {
		fd = eventfd(0, EFD_NONBLOCK);
		if (fd < 0) { perror("eventfd"); return 1; }
		io_uring_prep_poll_multishot(io_uring_get_sqe(&ring), fd, POLLIN);
		io_uring_submit(&ring);
	}

	double t0 = now();
	if (poll_mode) {
		eventfd_t v;
		for (long i = 0; i < n; i++) {
			if (eventfd_write(fd, 1)) { perror("eventfd_write"); return 1; }
			reap(&ring, 1);
			if (eventfd_read(fd, &v)) { perror("eventfd_read"); return 1; }
		}
	} else {
		for (long done = 0; done < n;) {
			unsigned k = n - done < batch ? n - done : batch;
			for (unsigned i = 0; i < k; i++) {
				struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
				if (read_mode) io_uring_prep_read(sqe, fd, buf[i], sizeof(buf[i]), 0);
				else io_uring_prep_nop(sqe);
			}
			if (io_uring_submit_and_wait(&ring, k) < 0) { fprintf(stderr, "uringops: submit failed\n"); return 1; }
			reap(&ring, k);
			done += k;
		}
	}
	double ns = now() - t0;
	printf("ops=%ld ns_per_op=%.1f\n", n, ns / n);
	io_uring_queue_exit(&ring);
	return 0;
}
