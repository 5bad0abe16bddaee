/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* ---- the application: accept() returned a connection (tracepoint/syscalls/sys_exit_accept{,4}) ----
 *
 * The connection leaves the accept queue (`accept`, with its time there and the process that took
 * it). A syscall tracepoint: while attached, every syscall of every process on the machine takes
 * the tracepoint exit path, so user space loads these programs only when accept's or the
 * application's rows are asked for. */
#ifndef TCPQ_ACCEPT_H
#define TCPQ_ACCEPT_H

#include "event.h"
#include "conns.h"
#include "app.h"
#include "fd.h"

/* The connection `sk` left the accept queue for `task`: its `accept` row, joined with what the
 * queue kept of it. accept() and io_uring's accepts (uring.h) both end here. `only_queued`: only if
 * tcpq saw it established and not yet accepted (conns.h keeps it): a caller that cannot tell an accept's
 * result from another operation's asks so. Returns whether it was taken. */
static __always_inline bool connection_accepted(struct sock *sk, struct task_struct *task, bool only_queued)
{
	__u16 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return false;
	struct conn_key k;
	/* a connection reset while queued is accepted in TCP_CLOSE, its inet_num already 0 */
	if (!traced_conn(sk, true, &k))
		return false;

	/* the connection leaves the table whether or not its row fits in the ring buffer */
	__u64 now = bpf_ktime_get_ns();
	struct conn_val cv = {};
	if (established_state(sk, &k, &cv, true)) {
		__u64 sk_key = (__u64)sk;
		app_accepted(&sk_key, &now);
	} else if (only_queued) {
		return false;
	}

	struct tcpq_event *e = new_event(TCPQ_ACCEPT, &k, now);
	if (!e)
		return true;
	if (cv.established_ns)
		set_wait(e, cv.established_ns);
	if (cv.attempts)
		set_attempt(e, cv.attempts);
	set_task(e, task);
	submit(e);
	return true;
}

static __always_inline void on_accept(long fd)
{
	if (fd < 0)
		return;
	struct task_struct *task = bpf_get_current_task_btf();
	struct sock *sk = sock_of_fd(task, fd);
	if (sk)
		connection_accepted(sk, task, false);
}

#endif
