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

/* The socket behind a file descriptor of the current process, or NULL: task->files->fdt->fd[fd]
 * ->private_data->sk, every step a plain load (a fault reads 0). The fd array holds pointers, which
 * BTF loads cannot index, so the slot is read as the first member of a struct that begins with a
 * struct file * (struct kiocb's ki_filp, in every kernel tcpq runs on): one bpf_probe_read_kernel()
 * call less. fd < max_fds keeps the read inside the array. */
static __always_inline struct sock *sock_of_fd(struct task_struct *task, long fd)
{
	struct fdtable *fdt = task->files->fdt;
	if (fd >= fdt->max_fds)
		return NULL;
	struct file *f = KCAST(struct kiocb, (__u64)fdt->fd + fd * sizeof(struct file *))->ki_filp;
	if (!f)
		return NULL;
	struct socket *sock = KCAST(struct socket, KCAST(struct file, f)->private_data);
	if (!sock)
		return NULL;
	return sock->sk;
}

static __always_inline void on_accept(long fd)
{
	if (fd < 0)
		return;
	struct task_struct *task = bpf_get_current_task_btf();
	struct sock *sk = sock_of_fd(task, fd);
	if (!sk)
		return;
	__u16 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return;
	struct conn_key k;
	/* a connection reset while queued is accepted in TCP_CLOSE, its inet_num already 0 */
	if (!traced_conn(sk, true, &k))
		return;

	/* the connection leaves the table whether or not its row fits in the ring buffer */
	__u64 now = bpf_ktime_get_ns();
	struct conn_val cv = {};
	if (established_state(sk, &k, &cv, true)) {
		__u64 sk_key = (__u64)sk;
		app_accepted(&sk_key, &now);
	}

	struct tcpq_event ev;
	struct tcpq_event *e = new_event(&ev, TCPQ_ACCEPT, &k, now);
	if (!e)
		return;
	if (cv.established_ns)
		set_wait(e, cv.established_ns);
	if (cv.attempts)
		set_attempt(e, cv.attempts);
	set_task(e, task);
	if ((cfg.mode & TCPQ_MODE_AGGREGATE) && cv.first_syn_ns)
		account_syn_to_accept(e, now - cv.first_syn_ns);
	submit(e);
}

#endif
