/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Counting mode's span records (serve --spans-slower-than, issue 25): one record for a connection
 * that counting mode sees as slow, dropped or retried, never one per connection. The calls sit where
 * counting mode already measures:
 *
 *   span_established()  the handshake completed (count.h): slower than the threshold, or after a
 *                       dropped SYN, or with SYN-ACK retransmits (the client's retries among them)
 *   span_accepted()     accept() returned it, in a sampling window (count_accept.h): it waited in
 *                       the accept queue longer than the threshold
 *   span_aborted()      it left the accept queue unaccepted (count.h) after waiting that long
 *
 * Off by default: the threshold is 0 in .rodata.spans, so the verifier removes every call, and
 * user space creates neither the ring nor its loss counter (bpf_map__set_autocreate): the default
 * serve pays nothing. On, a connection that is none of the above costs one compare per call. */
#ifndef TCPQ_COUNT_SPANS_H
#define TCPQ_COUNT_SPANS_H

#include "common.h"
#include "count_slots.h"

/* Set by user space before load (src/Tcpq/Bpf/CountingPrograms.cs); its own section, so that
 * struct tcpq_config's .rodata keeps its size. */
const volatile __u64 tcpq_spans_slower_than_ns SEC(".rodata.spans") = 0;

extern unsigned int CONFIG_HZ __kconfig __weak;

enum tcpq_span_kind {
	TCPQ_SPAN_ESTABLISHED = 1,
	TCPQ_SPAN_ACCEPTED = 2,
	TCPQ_SPAN_ABORTED = 3,
	/* never in the ring: user space makes it from a dropped_syns entry (count.h) whose client
	 * stopped trying, every SYN dropped */
	TCPQ_SPAN_DROPPED = 4,
};

/* One record (mirrored by Bpf/SpanRecords.cs, checked against this object's BTF). Times are
 * bpf_ktime_get_ns(); 0 is "not known". */
struct tcpq_span_record {
	__u64 first_syn_ns;    /* the client's first SYN */
	__u64 established_ns;  /* the handshake completed: it entered the accept queue */
	__u64 end_ns;          /* accept() returned it, or it left the queue unaccepted */
	__u8 client[16];       /* the peer, IPv4 mapped into IPv6 */
	__u8 local[16];        /* the address it was accepted on */
	__u8 listener[16];     /* its listener's address (its slot's: 0.0.0.0, ::, or local) */
	__u32 netns;
	__u32 slot;
	__u16 client_port, port;
	__u8 kind;             /* enum tcpq_span_kind */
	__u8 pad;
	__u16 abort;           /* enum tcpq_counter of an abort, else 0 */
	__u32 syn_drops;       /* the client's SYNs the listener dropped before this one got in */
	__u32 synack_retrans;  /* SYN-ACKs sent again (the listener's timer, or the client's retries) */
	__u32 pid;             /* the process that accepted it (TCPQ_SPAN_ACCEPTED) */
	char comm[16];
};

/* Records go out without a wakeup (BPF_RB_NO_WAKEUP): serve reads the ring on its own tick. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} span_records SEC(".maps");

/* Records that did not fit the ring: user space adds them to tcpq_spans_dropped_total. */
PERCPU_COUNTER(span_records_lost);

static __always_inline bool spans_on(void)
{
	return tcpq_spans_slower_than_ns != 0;
}

/* How long an unaccepted child has been established. tcp_create_openreq_child() sets its lsndtime
 * (jiffies), which moves only when the server sends data, and nothing is sent before accept();
 * below two jiffies the child's tcp_mstamp (µs, the last segment it processed) is finer. */
static __always_inline __u64 child_established_for_ns(const struct tcp_sock *tp)
{
	__u64 hz = CONFIG_HZ ? CONFIG_HZ : 250;
	__u32 jiffies_waited = (__u32)bpf_jiffies64() - tp->lsndtime;
	if (jiffies_waited <= 2) {
		__u64 now_us = bpf_ktime_get_ns() / 1000, at = tp->tcp_mstamp;
		return now_us > at ? (now_us - at) * 1000 : 0;
	}
	return (__u64)jiffies_waited * (1000000000ULL / hz);
}

static __always_inline struct tcpq_span_record *span_reserve(const struct sock *sk, __u32 slot, __u16 lport, __u8 kind)
{
	struct tcpq_span_record *r = bpf_ringbuf_reserve(&span_records, sizeof(*r), 0);
	if (!r) {
		bump(&span_records_lost);
		return NULL;
	}
	__builtin_memset(r, 0, sizeof(*r));
	const struct sock_common *c = &sk->__sk_common;
	set_addr(r->client, c, true);
	set_addr(r->local, c, false);
	r->netns = c->skc_net.net->ns.inum;
	r->slot = slot;
	r->client_port = bpf_ntohs(c->skc_dport);
	r->port = lport;
	r->kind = kind;
	__builtin_memcpy(r->listener, r->local, 16);
	if (slot) {
		struct tcpq_slot_info *si = bpf_map_lookup_elem(&slot_infos, &slot);
		if (si)
			__builtin_memcpy(r->listener, si->addr, 16);
	}
	r->synack_retrans = KCAST(struct tcp_sock, sk)->total_retrans;
	return r;
}

/* The handshake completed after handshake_ns (since the first SYN of a client whose SYN was
 * dropped syn_drops times, else the kernel's SYN-ACK RTT sample or its retransmit timeouts). */
static __always_inline void span_established(const struct sock *sk, __u32 slot, __u16 lport, __u64 handshake_ns, __u32 syn_drops)
{
	if (!spans_on())
		return;
	if (handshake_ns <= tcpq_spans_slower_than_ns && !syn_drops && !KCAST(struct tcp_sock, sk)->total_retrans)
		return;
	struct tcpq_span_record *r = span_reserve(sk, slot, lport, TCPQ_SPAN_ESTABLISHED);
	if (!r)
		return;
	__u64 now = bpf_ktime_get_ns();
	r->established_ns = r->end_ns = now;
	r->first_syn_ns = now > handshake_ns ? now - handshake_ns : 0;
	r->syn_drops = syn_drops;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

/* A record that ends now, of a connection established waited_ns ago; NULL when the ring is full. */
static __always_inline struct tcpq_span_record *span_ending_now(const struct sock *sk, __u32 slot, __u16 lport, __u8 kind, __u64 waited_ns)
{
	struct tcpq_span_record *r = span_reserve(sk, slot, lport, kind);
	if (!r)
		return NULL;
	__u64 now = bpf_ktime_get_ns();
	r->end_ns = now;
	r->established_ns = now > waited_ns ? now - waited_ns : 0;
	return r;
}

/* accept() returned it (current is the accepting process) after wait_ns in the queue. */
static __always_inline void span_accepted(const struct sock *sk, __u32 slot, __u16 lport, __u64 wait_ns, __u64 handshake_ns)
{
	if (!spans_on() || wait_ns <= tcpq_spans_slower_than_ns)
		return;
	struct tcpq_span_record *r = span_ending_now(sk, slot, lport, TCPQ_SPAN_ACCEPTED, wait_ns);
	if (!r)
		return;
	r->first_syn_ns = handshake_ns && r->established_ns > handshake_ns ? r->established_ns - handshake_ns : 0;
	r->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

/* It left the accept queue unaccepted (reset, closed, its listener closed: counter c). */
static __always_inline void span_aborted(const struct sock *sk, __u32 slot, __u16 lport, __u32 c)
{
	if (!spans_on())
		return;
	__u64 waited = child_established_for_ns(KCAST(struct tcp_sock, sk));
	if (waited <= tcpq_spans_slower_than_ns)
		return;
	struct tcpq_span_record *r = span_ending_now(sk, slot, lport, TCPQ_SPAN_ABORTED, waited);
	if (!r)
		return;
	r->abort = c;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
}

#endif
