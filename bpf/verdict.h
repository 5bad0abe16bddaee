/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The listener path's verdict (tp_btf/consume_skb, tp_btf/kfree_skb): the listener has processed
 * the SYN or final ACK that listener.h left pending on this CPU, and the packet is freed. What
 * the kernel did with it is read from this CPU's TcpExt counters (mib.h): dropped (`syn-drop`,
 * `ack-drop` and why), answered with a cookie (`syn-cookie`), or nothing to say. */
#ifndef TCPQ_VERDICT_H
#define TCPQ_VERDICT_H

#include "listener.h"

/* Verdicts made without the counters, per CPU: user space reports them. */
PERCPU_COUNTER(uncounted);

/* What the counters say: one row per segment the kernel counted in TcpExtListenDrops, and a
 * syn-cookie row per SyncookiesSent. */
static __always_inline void counted_verdict(struct pending *p, __u8 kind, __u64 now,
					    __u32 reason, bool freed_with_reason, bool unspecified)
{
	struct mib_snap m;
	read_mib(p->mib, &m);
	bool dropped = m.listendrops != p->m.listendrops;
	bool overflow = m.overflows != p->m.overflows;

	if (kind == TCPQ_SYN_AA) {
		/* a final ACK, a data segment or a retransmitted ACK the listener refused: on a
		 * request socket (tcp_check_req -> syn_recv_sock), or carrying a SYN cookie
		 * (cookie_v4/v6_check -> tcp_get_cookie_sock -> syn_recv_sock). The kernel counts
		 * each such segment: so does tcpq, Attempt = the n-th of this handshake. */
		if (!dropped)
			return;
		__u32 why = !overflow ? TCPQ_REASON_LISTEN_DROP
			    : m.cookiesrecv != p->m.cookiesrecv ? TCPQ_REASON_COOKIE_ACK_OVERFLOW
								 : TCPQ_REASON_ACCEPT_QUEUE_FULL;
		struct conn_val *cv = bpf_map_lookup_elem(&conns, &p->key);
		p->attempt = 1;
		if (cv) {
			p->attempt = ++cv->ack_drops;
			p->first_ns = cv->first_syn_ns; /* Wait us: since the first SYN */
		}
		emit_listener_event(p, TCPQ_ACK_DROP, now, why);
		return;
	}

	if (dropped) {
		/* tcp_conn_request() refused it (consumed, no drop reason): the accept queue
		 * (ListenOverflows), the SYN queue without cookies (TCPReqQFullDrop), or else */
		__u32 why = overflow ? TCPQ_REASON_ACCEPT_QUEUE_FULL
			    : m.reqqfulldrop != p->m.reqqfulldrop ? TCPQ_REASON_SYN_QUEUE_FULL
								   : TCPQ_REASON_LISTEN_DROP;
		emit_listener_event(p, TCPQ_SYN_DROP, now, why);
	} else if (freed_with_reason && !unspecified) {
		/* dropped before the listener took it (filter, checksum, xfrm, MD5/AO...): a
		 * drop, but not one the kernel counts in ListenDrops */
		emit_listener_event(p, TCPQ_SYN_DROP, now, reason);
	} else if (m.cookiessent != p->m.cookiessent) {
		emit_listener_event(p, TCPQ_SYN_COOKIE, now, 0);
	}
}

/* Without the counters: inferred from the listener's sk_drops (shared by every CPU, so now and
 * then another CPU's drop) and the kernel's cookie rule on values read at the SYN. Refused
 * SYN-cookie ACKs have no row here. */
static __always_inline void inferred_verdict(struct pending *p, __u8 kind, __u64 now,
					     __u32 reason, bool freed_with_reason, bool unspecified)
{
	bump(&uncounted);
	struct inet_connection_sock *lsk = KCAST(struct inet_connection_sock, p->listener);
	__u32 drops = lsk->icsk_inet.sk.sk_drops.counter;
	bool listener_dropped = !freed_with_reason && drops != p->qs.drops;
	p->qs.drops = drops;

	if (kind == TCPQ_SYN_AA) {
		/* only the accept queue's overflow: other reasons (TCP_FLAGS for an ACK that
		 * matches no handshake, ...) are not a handshake the listener dropped */
		if (reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW))
			emit_listener_event(p, TCPQ_ACK_DROP, now, TCPQ_REASON_ACCEPT_QUEUE_FULL);
		return;
	}

	__u32 q0_after = lsk->icsk_accept_queue.qlen.counter;
	if (freed_with_reason && !unspecified) {
		emit_listener_event(p, TCPQ_SYN_DROP, now, reason);
	} else if (listener_dropped) {
		/* tcp_conn_request() tests the accept queue with sk_acceptq_is_full(): Q > Qmax */
		emit_listener_event(p, TCPQ_SYN_DROP, now,
				    p->qs.q > p->qs.qmax ? TCPQ_REASON_ACCEPT_QUEUE_FULL
							 : TCPQ_REASON_SYN_QUEUE_FULL);
	} else if (!freed_with_reason &&
		   (p->syncookies == 2 ||
		    (p->syncookies == 1 && p->qs.q0 >= p->qs.qmax && q0_after <= p->qs.q0))) {
		/* tcp_conn_request(): want_cookie when syncookies=2, or =1 and the SYN queue is
		 * full; a cookie adds no request socket, so Q0 did not grow */
		emit_listener_event(p, TCPQ_SYN_COOKIE, now, 0);
	}
}

/* A SYN noted on this CPU while a verdict program was running here (its softirq came on an
 * interrupt, or ksoftirqd preempted the run) has its own free skipped: the kernel runs a tracing
 * program once per CPU at a time (bpf_prog_info.recursion_misses). Its processing is over when
 * the run it interrupted goes on (a softirq is not preempted), so that run settles it from the
 * counters as its free would have: a drop or a cookie is not lost (serve --source events once
 * counted 4 drops where nstat said 6). Only SYNs: an ACK may be freed later, from a child's backlog. */
static __always_inline void settle_nested_syn(__u32 gen_at_entry)
{
	struct pending *p = this_cpu_pending();
	if (p->kind != TCPQ_SYN || p->gen == gen_at_entry)
		return;
	p->kind = 0;
	__u64 now = bpf_ktime_get_ns();
	if (p->mib)
		counted_verdict(p, TCPQ_SYN, now, 0, false, false);
	else
		inferred_verdict(p, TCPQ_SYN, now, 0, false, false);
}

/* The packet is freed: with a drop reason from kfree_skb, 0 from consume_skb. */
static __always_inline int finish_pending(struct sk_buff *skb, __u32 reason)
{
	struct pending *p = this_cpu_pending();
	if (!p->kind)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	if (now - p->ts > PENDING_STALE_NS) {
		if (p->kind == TCPQ_SYN)
			bump(&missed);
		p->kind = 0;
		return 0;
	}
	struct tcphdr *th = KCAST(struct tcphdr, skb->head + skb->transport_header);
	if (th->source != bpf_htons(p->key.sport) || th->dest != bpf_htons(p->key.dport))
		return 0;

	__u8 kind = p->kind;
	p->kind = 0;
	/* SKB_NOT_DROPPED_YET (0) and SKB_CONSUMED, the reasons up to SKB_CONSUMED, are no drop.
	 * tcp_v4_rcv() frees a retransmitted SYN or duplicate ACK that an existing request socket
	 * answered with NOT_SPECIFIED (and bumps sk_drops): that is no drop either. */
	bool freed_with_reason = reason > bpf_core_enum_value(enum skb_drop_reason, SKB_CONSUMED);
	bool unspecified = reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED);
	if (p->mib)
		counted_verdict(p, kind, now, reason, freed_with_reason, unspecified);
	else
		inferred_verdict(p, kind, now, reason, freed_with_reason, unspecified);
	return 0;
}

#endif
