/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* ---- the connection's own socket (tp_btf/inet_sock_set_state, tp_btf/tcp_retransmit_synack) ----
 *
 * SYN_RECV -> ESTABLISHED is the handshake's end (`syn-aa`); leaving ESTABLISHED before any
 * accept() is an `abort`; a child socket closed in SYN_RECV is one the kernel threw away. The
 * listener's SYN-ACK retransmissions come from the request socket. */
#ifndef TCPQ_SOCKSTATE_H
#define TCPQ_SOCKSTATE_H

#include "event.h"
#include "conns.h"
#include "listener.h"
#include "app.h"

/* SYN_RECV -> ESTABLISHED: the handshake is complete and the connection waits in the accept
 * queue (`syn-aa`). Its entry is completed in place: the time, and the socket it now has. */
static __subprog int on_established(const struct sock *sk)
{
	struct conn_key k;
	if (!traced_conn(sk, false, &k))
		return 0;
	__u64 now = bpf_ktime_get_ns();
	struct conn_val qv = { .established_ns = now, .sk = (__u64)sk };
	struct conn_val *hv = bpf_map_lookup_elem(&conns, &k);
	if (hv) {
		if (hv->sk)
			displace(hv, 0); /* a connection of this 4-tuple whose new SYN tcpq missed */
		else if (!(hv->state & CONN_DONE)) {
			qv.first_syn_ns = hv->first_syn_ns;
			qv.attempts = hv->attempts;
			qv.ack_drops = hv->ack_drops;
		}
		*hv = qv;
	} else {
		bpf_map_update_elem(&conns, &k, &qv, BPF_ANY);
	}
	app_follow(sk, now);

	/* the final ACK that made it: take its queue snapshot, and it is no longer pending */
	struct listener_queues ack = {};
	bool acked = false;
	struct pending *p = this_cpu_pending();
	if (p->kind == TCPQ_SYN_AA && p->key.sport == k.sport && p->key.dport == k.dport) {
		ack = p->qs;
		acked = true;
		p->kind = 0;
	}

	struct tcpq_event *e = new_event(TCPQ_SYN_AA, &k, now);
	if (!e)
		return 0;
	/* the queues as the final ACK arrived, as the seed printed them */
	if (acked)
		set_queues(e, &ack);
	if (qv.first_syn_ns) {
		set_wait(e, qv.first_syn_ns);
		set_attempt(e, qv.attempts);
	}
	submit(e);
	return 0;
}

/* A connection still waiting in the accept queue was reset (TCP_CLOSE) or closed (TCP_CLOSE_WAIT)
 * by the client (`abort`). The caller saw no struct socket: no accept() took it yet. */
static __subprog int on_queued_close(const struct sock *sk, int newstate)
{
	struct conn_key k;
	if (!traced_conn(sk, true, &k))
		return 0;
	/* no flag against a second abort: a socket leaves ESTABLISHED only once */
	struct conn_val qv;
	if (!established_state(sk, &k, &qv, false))
		return 0;
	__u64 now = bpf_ktime_get_ns();

	struct tcpq_event *e = new_event(TCPQ_ABORT, &k, now);
	if (!e)
		return 0;
	e->reason = newstate == TCP_CLOSE ? TCPQ_REASON_PEER_RESET : TCPQ_REASON_PEER_CLOSED;
	set_wait(e, qv.established_ns);
	if (qv.attempts)
		set_attempt(e, qv.attempts);
	submit(e);
	return 0;
}

/* A child socket closed in SYN_RECV, before it was established and with no struct socket: the
 * kernel made it for a handshake (tcp_create_openreq_child() counts TcpPassiveOpens) and threw it
 * away. tcp_v4/v6_syn_recv_sock(): inet_ehash_nolisten() found the request socket already gone
 * (own_req false: two segments of one handshake, on two CPUs, each made a child; the other one's
 * child is the connection) or a socket of the same 4-tuple already hashed (found_dup_sk, a
 * SYN-cookie ACK), and set it TCP_CLOSE; or it could not set the child up (no route, no port,
 * no memory: tcp_done(), and the segment counts in ListenDrops). Without this row, syn-aa falls
 * short of TcpPassiveOpens by these. An `abort` that does not end the connection: in the race,
 * the other child goes on to syn-aa. */
static __subprog int on_child_discarded(const struct sock *sk)
{
	struct conn_key k;
	if (!traced_conn(sk, true, &k))
		return 0;
	struct tcpq_event *e = new_event(TCPQ_ABORT, &k, bpf_ktime_get_ns());
	if (!e)
		return 0;
	e->reason = TCPQ_REASON_CHILD_DISCARDED;
	struct conn_val *cv = bpf_map_lookup_elem(&conns, &k);
	if (cv && !(cv->state & CONN_DONE)) {
		set_wait(e, cv->first_syn_ns);
		set_attempt(e, cv->attempts);
	}
	submit(e);
	return 0;
}

/* Its jobs are subprograms (__subprog), each with its own stack frame: their keys and tables'
 * values, inlined together, would crowd the 512-byte stack. */
static __always_inline void sockstate_changed(const struct sock *sk, int oldstate, int newstate)
{
	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		on_established(sk);
		return;
	}
	/* closed while queued: no accept() has grafted it to a socket yet (every accepted or
	 * connect()ed socket leaves here without a lookup) */
	if (oldstate == TCP_ESTABLISHED && (newstate == TCP_CLOSE || newstate == TCP_CLOSE_WAIT) &&
	    !sk->sk_socket)
		on_queued_close(sk, newstate);
	else if (oldstate == TCP_SYN_RECV && newstate == TCP_CLOSE && !sk->sk_socket)
		on_child_discarded(sk);
}

/* The listener `sk` retransmitted the SYN-ACK of request socket `req` (`synack-retrans`). */
static __always_inline void on_synack_retransmit(const struct sock *sk, const struct request_sock *req)
{
	if (!kind_on(TCPQ_SYNACK_RETRANS) || !port_traced(sk->__sk_common.skc_num))
		return;
	struct conn_key k = {};
	key_from_common((const struct sock_common *)req, req->__req_common.skc_num, &k);

	struct tcpq_event *e = new_event(TCPQ_SYNACK_RETRANS, &k, bpf_ktime_get_ns());
	if (!e)
		return;
	struct listener_queues qs;
	read_queues(KCAST(struct inet_connection_sock, sk), &qs);
	set_queues(e, &qs);
	/* the n-th retransmission: num_retrans counts those already sent */
	set_attempt(e, req->num_retrans + 1);
	struct conn_val *cv = bpf_map_lookup_elem(&conns, &k);
	if (cv && cv->first_syn_ns)
		set_wait(e, cv->first_syn_ns);
	submit(e);
}

#endif
