/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* From a file descriptor of the current process to its socket: the accept hooks of both objects
 * (accept.h for rows, count_accept.h for counting mode's sampled waits). */
#ifndef TCPQ_FD_H
#define TCPQ_FD_H

#include "common.h"

/* The socket behind a file descriptor of the current process, or NULL: task->files->fdt->fd[fd]
 * ->private_data->sk, every step a plain load (a fault reads 0). The fd array holds pointers, which
 * BTF loads cannot index, so the slot is read as the first member of a struct that begins with a
 * struct file * (struct kiocb's ki_filp, in every kernel tcpq runs on): one bpf_probe_read_kernel()
 * call less (~70 ns a connection with its call, perf at 50k connections/s). fd < max_fds keeps the
 * read inside the array. */
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

#endif
