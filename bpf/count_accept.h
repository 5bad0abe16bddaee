/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Counting mode's sampled latencies: the accept-queue wait and first SYN -> accept(), measured on
 * the connections accepted while user space keeps the accept hooks attached (a duty cycle, by
 * default 1 s in 10: src/Tcpq/Bpf/CountingPrograms.cs). A syscall tracepoint puts every syscall
 * of the machine on the slow path while attached, so it is attached only for those windows; and
 * nothing is kept per connection to join the accept to its handshake: the accepted socket itself
 * says when it was established. So every connection accepted in a window is measured, however
 * long it waited, and the sample is unbiased in the wait.
 *
 * When it was established (child_established_for_ns, count_spans.h): tcp_create_openreq_child() sets the child's lsndtime (jiffies), which
 * moves only when the server sends data, and nothing is sent before accept(); below two jiffies
 * the child's tcp_mstamp (µs, the last segment it processed: the final ACK, or the client's first
 * data right after it) is finer. The handshake before it is the kernel's SYN-ACK RTT sample, as
 * count.h records it. */
#ifndef TCPQ_COUNT_ACCEPT_H
#define TCPQ_COUNT_ACCEPT_H

#include "common.h"
#include "count_slots.h"
#include "fd.h"
#include "count_spans.h"

static __always_inline void count_accept(long fd)
{
	if (fd < 0)
		return;
	struct sock *sk = sock_of_fd(bpf_get_current_task_btf(), fd);
	if (!sk)
		return;
	sk = KCAST(struct sock, sk);
	__u16 family = sk->__sk_common.skc_family;
	if ((family != AF_INET && family != AF_INET6) || sk->sk_protocol != IPPROTO_TCP_)
		return;
	/* inet_sport: a connection reset while queued is accepted in TCP_CLOSE, its port released */
	__u16 lport = bpf_ntohs(KCAST(struct inet_sock, sk)->inet_sport);
	if (!port_traced(lport))
		return;
	__u32 slot = slot_of_child(sk, lport);
	struct tcpq_slot_counts *sc = counts_of(slot);
	if (!sc)
		return;

	struct tcp_sock *tp = KCAST(struct tcp_sock, sk);
	__u64 wait = child_established_for_ns(tp);
	hist_record(&sc->queue_wait, wait);
	__u32 rtt_us = tp->srtt_us >> 3;
	if (!tp->total_retrans && rtt_us)
		hist_record(&sc->syn_to_accept, wait + (__u64)rtt_us * 1000);
	span_accepted(sk, slot, lport, wait, !tp->total_retrans ? (__u64)rtt_us * 1000 : 0);
}

#endif
