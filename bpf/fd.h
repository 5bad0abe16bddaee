/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* From a file descriptor of the current process to its socket: the accept hooks of both objects
 * (accept.h for rows, count_accept.h for counting mode's sampled waits). */
#ifndef TCPQ_FD_H
#define TCPQ_FD_H

#include "common.h"

/* The socket behind a file descriptor of the current process, or NULL. */
static __always_inline struct sock *sock_of_fd(struct task_struct *task, long fd)
{
	struct fdtable *fdt = task->files->fdt;
	if (fd >= fdt->max_fds)
		return NULL;
	struct file *f = NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), fdt->fd + fd) || !f)
		return NULL;
	f = bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file));
	struct socket *sock = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	if (!sock)
		return NULL;
	return sock->sk;
}

#endif
