/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* ---- accepts made by io_uring (tp_btf/io_uring_complete, tp_btf/io_uring_cqe_overflow) ----
 *
 * An io_uring server accepts without the accept syscall: IORING_OP_ACCEPT runs inside
 * io_uring_enter(), in its io-wq workers or its SQPOLL thread, and its result reaches the
 * application as a completion (CQE). The kernel has no tracepoint where the child socket leaves
 * the accept queue or gets its file (inet_csk_accept(), sock_graft() and fd_install() have none),
 * so the accept is seen where its completion is posted, which every path passes, by a thread of
 * the process (the submitter running its task work, an io-wq worker, the SQPOLL thread: all share
 * its files):
 *
 *   single-shot      io_fill_cqe_req(): io_uring_complete with the request, whose opcode says it
 *                    is an accept and whose struct io_accept says where the result went
 *   multishot        io_req_post_cqe() -> io_fill_cqe_aux(): io_uring_complete without the request
 *                    (NULL), only the ring, user_data, res and IORING_CQE_F_MORE
 *   CQ ring full     io_uring_cqe_overflow: the CQE waits in the overflow list, no request either
 *
 * The result is an fd of the process, or with a direct accept a slot of the ring's fixed files:
 * the slot io_uring chose (IORING_FILE_INDEX_ALLOC, always so for multishot), or res 0 and the
 * slot asked for (file_slot - 1). A completion without its request could be any operation's, so
 * its res is read both ways, and taken only if it names a connection tcpq saw established and
 * never saw accepted (connection_accepted(..., only_queued)): a queued socket (conns.h) that already
 * has a file in this process, or in this ring, was just accepted, whatever asked for it. So no
 * table of requests is kept, and a multishot accept armed before tcpq started is seen from its
 * next connection. Not seen: a direct accept into a chosen slot whose completion overflowed (res
 * 0 names no slot), and an accept that posts no completion (IOSQE_CQE_SKIP_SUCCESS).
 *
 * Cost, paid by every io_uring operation of the machine while tcpq traces accepts (rows mode
 * only): io_uring_complete runs once per completion and, for one with its request, returns after
 * a load and a compare unless it is an accept; a multishot completion without a provided buffer
 * (poll, a multishot accept) resolves its res as an fd and as a slot. bench/RESULTS.md measures it
 * per operation on a busy ring. */
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

/* connection_accepted() once in the program, however many places call it: a subprogram (see
 * common.h), its event in a stack frame of its own. */
static __subprog int uring_accepted(struct sock *sk, int only_queued)
{
	return connection_accepted(sk, bpf_get_current_task_btf(), only_queued);
}

/* A completion without its request (multishot, or overflowed): `res` as an fd of the process,
 * then as a slot of the ring; taken only for a connection tcpq saw established and not yet accepted. */
static __always_inline void uring_maybe_accepted(__u64 ring, int res)
{
	if (res < 0)
		return;
	struct sock *sk = sock_of_fd(bpf_get_current_task_btf(), res);
	if (sk && uring_accepted(sk, true))
		return;
	sk = sock_of_slot(ring, res);
	if (sk)
		uring_accepted(sk, true);
}

/* A CQE was posted into the ring (io_uring_complete). */
static __always_inline void uring_completed(__u64 ring, __u64 req, const struct io_uring_cqe *cqe)
{
	if (!req) {
		/* io_fill_cqe_aux(): a multishot request's completion. An accept's has
		 * IORING_CQE_F_MORE and never a provided buffer (multishot recv's always has). */
		__u32 flags = cqe->flags;
		if ((flags & (IORING_CQE_F_MORE_ | IORING_CQE_F_BUFFER_)) == IORING_CQE_F_MORE_)
			uring_maybe_accepted(ring, cqe->res);
		return;
	}
	if (KCAST(struct io_kiocb, req)->opcode != IORING_OP_ACCEPT_)
		return;
	int res = cqe->res;
	if (res < 0)
		return;
	__u32 file_slot = KCAST(struct io_accept, req)->file_slot;
	struct sock *sk;
	if (!file_slot)
		sk = sock_of_fd(bpf_get_current_task_btf(), res);
	else
		sk = sock_of_slot(ring, file_slot == IORING_FILE_INDEX_ALLOC_ ? res : file_slot - 1);
	if (sk)
		uring_accepted(sk, false);
}

#endif
