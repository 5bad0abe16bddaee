/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* ---- accepts made by io_uring (tp_btf/io_uring_submit_req, io_uring_task_add, io_uring_complete,
 * io_uring_cqe_overflow) ----
 *
 * An io_uring server accepts without the accept syscall: IORING_OP_ACCEPT runs inside
 * io_uring_enter(), in its io-wq workers or its SQPOLL thread, and its result reaches the
 * application as a completion (CQE). The kernel has no tracepoint where the child socket leaves
 * the accept queue or gets its file (inet_csk_accept(), sock_graft() and fd_install() have none),
 * so the accept is seen where its completion is posted, which every path passes:
 *
 *   single-shot        io_fill_cqe_req(): io_uring_complete with the request, its opcode and
 *                      its struct io_accept at hand
 *   multishot          io_req_post_cqe() -> io_fill_cqe_aux(): io_uring_complete with no
 *                      request (NULL), only the ring, user_data, res and flags (IORING_CQE_F_MORE)
 *   CQ ring full       io_uring_cqe_overflow: the CQE waits in the overflow list, no request
 *
 * For completions without a request, a table remembers each accept request by (ring, user_data),
 * the way the application itself tells its completions apart: written when the request is
 * submitted (io_uring_submit_req) and each time its poll wakes it (io_uring_task_add, so that a
 * multishot accept armed before tcpq started is learned at its next connection), deleted when its
 * last completion is posted.
 *
 * The result is an fd of the process (accept's default), or a direct descriptor: a slot of the
 * ring's fixed files (file_slot != 0), the slot io_uring chose (IORING_FILE_INDEX_ALLOC, always
 * for multishot) or the one asked for (res 0, the slot is file_slot - 1). From the socket on, the
 * row is accept()'s: connection_accepted() (accept.h).
 *
 * Cost, paid by every io_uring operation of the machine while tcpq traces accepts (rows mode
 * only): io_uring_submit_req and io_uring_complete run once per operation and return after one
 * load and a compare unless it is an accept; a multishot completion without a provided buffer
 * (poll, timeouts) costs a hash lookup; io_uring_task_add runs for operations that had to wait.
 * bench/RESULTS.md measures it per operation on a busy ring. */
#ifndef TCPQ_URING_H
#define TCPQ_URING_H

#include "accept.h"

/* include/uapi/linux/io_uring.h */
#define IORING_OP_ACCEPT_ 13
#define IORING_CQE_F_BUFFER_ (1U << 0)
#define IORING_CQE_F_MORE_ (1U << 1)
#define IORING_FILE_INDEX_ALLOC_ (~0U)
/* io_uring/filetable.h: the low bits of a fixed file's file_ptr are flags */
#define URING_FFS_FLAGS 0x3UL

/* An io_uring request as its application names it: the ring and the request's user_data. */
struct uring_req_key {
	__u64 ring; /* struct io_ring_ctx * */
	__u64 user_data;
};

/* The accept requests in flight (their struct io_accept's file_slot), for the completions that
 * come without the request. LRU: an accept whose last completion is never posted (the ring torn
 * down in a way that posts none, IOSQE_CQE_SKIP_SUCCESS) ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct uring_req_key);
	__type(value, __u32);
} uring_accepts SEC(".maps");

/* The socket in slot `slot` of the ring's fixed files, or NULL. A slot is an io_rsrc_node since
 * 6.13; on older kernels (another layout) direct accepts are not seen. */
static __always_inline struct sock *sock_of_slot(__u64 ring, __u32 slot)
{
	if (!bpf_core_field_exists(struct io_rsrc_data, nodes))
		return NULL;
	struct io_ring_ctx *ctx = KCAST(struct io_ring_ctx, ring);
	if (slot >= ctx->file_table.data.nr)
		return NULL;
	struct io_rsrc_node *node = NULL;
	if (bpf_probe_read_kernel(&node, sizeof(node), ctx->file_table.data.nodes + slot) || !node)
		return NULL;
	__u64 file = KCAST(struct io_rsrc_node, node)->file_ptr & ~URING_FFS_FLAGS;
	struct socket *sock = KCAST(struct socket, KCAST(struct file, file)->private_data);
	if (!sock)
		return NULL;
	return sock->sk;
}

/* An accept completed with `res` on `ring`: the socket it made, then its row. The task is the
 * process's own (the submitter running its task work, an io-wq worker or the SQPOLL thread: all
 * share its files), so its fds are the ones accept installed into. */
static __always_inline void uring_accepted(__u64 ring, int res, __u32 file_slot)
{
	if (res < 0)
		return;
	struct task_struct *task = bpf_get_current_task_btf();
	struct sock *sk;
	if (!file_slot)
		sk = sock_of_fd(task, res);
	else
		sk = sock_of_slot(ring, file_slot == IORING_FILE_INDEX_ALLOC_ ? res : file_slot - 1);
	if (sk)
		connection_accepted(sk, task);
}

/* A request was submitted (BPF_ANY: a new request may reuse a finished one's user_data) or woken
 * by its poll (BPF_NOEXIST): an accept is remembered until its last completion. */
static __always_inline void uring_request_seen(const struct io_kiocb *req, __u64 update)
{
	if (req->opcode != IORING_OP_ACCEPT_)
		return;
	struct uring_req_key k = { .ring = (__u64)req->ctx, .user_data = req->cqe.user_data };
	__u32 file_slot = KCAST(struct io_accept, req)->file_slot;
	bpf_map_update_elem(&uring_accepts, &k, &file_slot, update);
}

/* A CQE was posted into the ring. `req` is NULL for io_fill_cqe_aux(): a multishot request's
 * completion, and a multishot accept's (IORING_CQE_F_MORE, never a provided buffer) is found in
 * the table. With a request, its own opcode says; it is the request's last completion. */
static __always_inline void uring_completed(__u64 ring, __u64 req, const struct io_uring_cqe *cqe)
{
	struct uring_req_key k = { .ring = ring, .user_data = cqe->user_data };
	__u32 file_slot;
	if (req) {
		if (KCAST(struct io_kiocb, req)->opcode != IORING_OP_ACCEPT_)
			return;
		bpf_map_delete_elem(&uring_accepts, &k);
		file_slot = KCAST(struct io_accept, req)->file_slot;
		/* its own load: merged with the map value's below, one instruction would read two
		 * kinds of pointer, which the verifier refuses */
		barrier_var(file_slot);
	} else {
		__u32 flags = cqe->flags;
		if (!(flags & IORING_CQE_F_MORE_) || (flags & IORING_CQE_F_BUFFER_))
			return;
		__u32 *found = bpf_map_lookup_elem(&uring_accepts, &k);
		if (!found)
			return;
		file_slot = *found;
	}
	uring_accepted(ring, cqe->res, file_slot);
}

/* The CQ ring was full: the CQE went to the overflow list (the application reads it later). An
 * accept's CQE overflows only as its request's last one (a multishot accept that cannot post
 * ends with it), so its entry goes. */
static __always_inline void uring_overflowed(__u64 ring, __u64 user_data, int res)
{
	struct uring_req_key k = { .ring = ring, .user_data = user_data };
	__u32 *found = bpf_map_lookup_elem(&uring_accepts, &k);
	if (!found)
		return;
	__u32 file_slot = *found;
	bpf_map_delete_elem(&uring_accepts, &k);
	uring_accepted(ring, res, file_slot);
}

#endif
