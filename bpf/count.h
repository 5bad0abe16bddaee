/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Counting mode (serve, top): the same exact counts as the rows of `tcpq trace`, at the least cost
 * per connection (issue 21). No syscall is hooked, and nothing is kept per connection:
 *
 * - a SYN, final ACK or RST at a listener (cgroup_skb/ingress) notes its slot, the queues and
 *   this CPU's ListenDrops counter, per CPU; the full TcpExt snapshot only when a drop or a cookie
 *   is possible (a queue within RACE_MARGIN of full, syncookies=2, a reset);
 * - what the kernel did with it comes from the counters' deltas (mib.h), read when the verdict is
 *   settled: at the next packet this CPU's ingress sees (nothing of the listener's runs on this CPU
 *   in between: see settle()), at its free with a drop reason (kfree_skb), or when user space
 *   reads (the reader, run on each CPU). No hook on every freed skb: consume_skb ran ~3 times per
 *   connection for nothing;
 * - SYN_RECV -> ESTABLISHED counts the handshake; its time is the kernel's own SYN-ACK RTT sample,
 *   or since the first SYN of a client whose SYN was dropped (the one table here, written only on
 *   a drop: no socket exists yet to hold that);
 * - accepts are not hooked: user space derives them as handshakes - (queue now - queue when
 *   counting began), the queue read by the live reader (count_slots.h). */
#ifndef TCPQ_COUNT_H
#define TCPQ_COUNT_H

#include "common.h"
#include "mib.h"
#include "count_slots.h"
#include "count_spans.h"

#define TCP_SYN_ 0x02
#define TCP_RST_ 0x04
#define TCP_ACK_ 0x10

/* A drop needs a full queue. Q and Q0 are read as the packet arrives, and other CPUs can fill the
 * queue before the listener looks: within this margin of full, the full snapshot is taken. */
#define RACE_MARGIN 8
/* The reader settles a pending verdict only once its packet is surely done: the listener handles a
 * packet in one softirq pass of a few µs, and this is 4-8 ms (250 Hz). */
#define SETTLE_AGE_JIFFIES 2
/* A client whose SYN was dropped retries after 1, 3, 7... s: remembered this long. */
#define DROP_MEMORY_NS (180ULL * 1000000000ULL)

enum pending_kind { PENDING_NONE = 0, PENDING_SYN, PENDING_ACK, PENDING_RST };

struct conn4 {
	__u8 saddr[16], daddr[16];
	__u32 netns;
	__u16 sport, dport;
};

/* A client whose SYN was dropped: when it first tried, for its handshake's time, and when its
 * last SYN was dropped: one that stops trying leaves its entry behind, which serve's spans read
 * (Bpf/SpanRecords.cs) as a client that never got in. */
struct dropped_syn {
	__u64 first_ns;
	__u32 attempts;
	__u32 pad;
	__u64 last_ns;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct conn4);
	__type(value, struct dropped_syn);
} dropped_syns SEC(".maps");

/* The last SYN drop, any CPU: the table above is read only within DROP_MEMORY_NS of it. */
__u64 last_drop_ns;

/* This CPU's packet at a listener whose verdict is not settled yet. Written by the ingress hook
 * (softirq); settled there at the next packet, by kfree_skb (any context) or by the reader (the
 * CPU's own, interrupts off): each claims it with interrupts off, so none settles it twice. */
struct pending {
	__u64 ts;          /* set only when the verdict may need it */
	__u64 mib;         /* this CPU's struct linux_mib of the listener's netns, 0 if unknown */
	__u64 jiffies;     /* when it was noted, for the reader */
	__u32 slot;
	__u16 sport, dport;
	__u8 kind;         /* enum pending_kind */
	__u8 full;         /* the full TcpExt snapshot was taken: a drop or cookie was possible */
	__u8 retry;        /* a SYN a request socket answered again (tcp_retransmit_synack) */
	__u8 has_conn;     /* conn holds the client's 4-tuple */
	__u32 embryonic_rsts;
	struct mib_snap m;
	struct conn4 conn;
};
struct pending pendings[TCPQ_MAX_CPUS];

static __always_inline struct pending *this_cpu_pending(void)
{
	return &pendings[bpf_get_smp_processor_id() & (TCPQ_MAX_CPUS - 1)];
}

extern void bpf_local_irq_save(unsigned long *flags) __ksym;
extern void bpf_local_irq_restore(unsigned long *flags) __ksym;

static __always_inline void read_snapshot(__u64 mib, bool full, struct mib_snap *m, __u32 *rsts)
{
	if (full) {
		read_mib(mib, m);
		*rsts = KCAST(struct linux_mib, mib)->mibs[LINUX_MIB_EMBRYONICRSTS];
	} else {
		m->listendrops = KCAST(struct linux_mib, mib)->mibs[LINUX_MIB_LISTENDROPS];
	}
}

static __always_inline void syn_dropped(struct pending *p, struct dropped_syn *d)
{
	if (!p->has_conn)
		return;
	/* has_conn: ts was taken at the packet (count_ingress) */
	if (d) {
		d->attempts += 1;
		d->last_ns = p->ts;
	} else {
		struct dropped_syn nd = { .first_ns = p->ts, .attempts = 1, .last_ns = p->ts };
		bpf_map_update_elem(&dropped_syns, &p->conn, &nd, BPF_ANY);
	}
	last_drop_ns = p->ts;
}

/* What the kernel did with this CPU's pending packet, from the counters' deltas since it arrived:
 * reason is its drop reason when kfree_skb settles it, else 0 (it was consumed, or is done);
 * ports, when not 0, the freed packet's (sport << 16 | dport): settled only if they are the pending's.
 * Exact at any later time, as long as nothing else moved this CPU's counters of that netns
 * meanwhile, and nothing can: the kernel counts a listen drop, cookie or embryonic reset only
 * while it handles a packet at a listener (a SYN, an ACK to one of its request sockets, a cookie
 * ACK: skb->sk is the listener at tcp_filter()), which passes this CPU's ingress hook first, and
 * that settles the pending before anything else (count_ingress). A listener's packets are handled
 * on one CPU from that hook to their free, BH off, never queued (no backlog for a listener).
 * The caller has interrupts off. */
static __subprog int settle(struct pending *p, __u32 reason, __u32 ports)
{
	__u8 kind = p->kind;
	if (kind == PENDING_NONE || (ports && ports != ((__u32)p->sport << 16 | p->dport)))
		return 0;
	p->kind = PENDING_NONE;
	struct tcpq_slot_counts *sc = counts_of(p->slot);
	if (!sc)
		return 0;

	struct mib_snap m = {};
	__u32 rsts = 0;
	bool dropped = false;
	if (p->mib) {
		read_snapshot(p->mib, p->full, &m, &rsts);
		dropped = m.listendrops != p->m.listendrops;
	} else {
		sc->n[TCPQ_C_UNCOUNTED] += 1;
	}
	if (kind == PENDING_RST) {
		if (p->mib && rsts != p->embryonic_rsts)
			sc->n[TCPQ_C_ABORT_HALF_OPEN] += 1;
		return 0;
	}
	if (kind == PENDING_ACK) {
		if (!dropped)
			return 0;
		if (p->full && m.overflows != p->m.overflows)
			sc->n[m.cookiesrecv != p->m.cookiesrecv ? TCPQ_C_ACK_DROP_COOKIE : TCPQ_C_ACK_DROP_AQF] += 1;
		else
			sc->n[TCPQ_C_ACK_DROP_LISTEN] += 1;
		return 0;
	}

	/* a SYN: a client's retry when a request socket answered it again, or its SYN was dropped */
	bool retry = p->retry;
	struct dropped_syn *d = NULL;
	if (p->has_conn) {
		d = bpf_map_lookup_elem(&dropped_syns, &p->conn);
		if (d)
			retry = true;
	}
	sc->n[retry ? TCPQ_C_SYN_RETRY : TCPQ_C_SYN] += 1;
	/* see verdict.h: no reason up to SKB_CONSUMED, and NOT_SPECIFIED for a SYN a request
	 * socket answered, are no drop */
	bool freed_with_reason = reason > bpf_core_enum_value(enum skb_drop_reason, SKB_CONSUMED);
	bool unspecified = reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED);
	if (dropped) {
		if (!p->full)
			sc->n[TCPQ_C_SYN_DROP_LISTEN] += 1;
		else if (m.overflows != p->m.overflows)
			sc->n[TCPQ_C_SYN_DROP_AQF] += 1;
		else if (m.reqqfulldrop != p->m.reqqfulldrop)
			sc->n[TCPQ_C_SYN_DROP_SQF] += 1;
		else
			sc->n[TCPQ_C_SYN_DROP_LISTEN] += 1;
		syn_dropped(p, d);
	} else if (freed_with_reason && !unspecified) {
		struct tcpq_kernel_drop k = { .slot = p->slot, .reason = reason };
		__u64 *n = bpf_map_lookup_elem(&kernel_drops, &k);
		if (n) {
			*n += 1;
		} else {
			__u64 one = 1;
			if (bpf_map_update_elem(&kernel_drops, &k, &one, BPF_NOEXIST))
				sc->n[TCPQ_C_MISSED] += 1;
		}
		syn_dropped(p, d);
	} else if (p->full && p->mib && m.cookiessent != p->m.cookiessent) {
		sc->n[TCPQ_C_SYN_COOKIE] += 1;
	}
	return 0;
}

static __always_inline void settle_with_irqs_off(struct pending *p, __u32 reason, __u32 ports)
{
	unsigned long flags;
	bpf_local_irq_save(&flags);
	settle(p, reason, ports);
	bpf_local_irq_restore(&flags);
}

static __always_inline void note_conn(struct __sk_buff *skb, struct pending *p, bool ipv6, __u32 netns)
{
	if (!ipv6) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			return;
		__builtin_memset(&p->conn, 0, sizeof(p->conn));
		p->conn.saddr[10] = p->conn.saddr[11] = 0xff;
		__builtin_memcpy(p->conn.saddr + 12, &ip.saddr, 4);
		p->conn.daddr[10] = p->conn.daddr[11] = 0xff;
		__builtin_memcpy(p->conn.daddr + 12, &ip.daddr, 4);
	} else {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return;
		__builtin_memcpy(p->conn.saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->conn.daddr, &ip6.daddr, 16);
	}
	p->conn.netns = netns;
	p->conn.sport = p->sport;
	p->conn.dport = p->dport;
	p->has_conn = 1;
}

/* A packet for a socket of the machine: only a listener's SYN, ACK or RST does any work. A packet
 * at any listener first settles this CPU's pending verdict: the packet before it is done, and only
 * a packet at a listener can move the counters the verdict is read from. The others (8 in 10 on
 * nginx) return at the first test, as before. */
static __always_inline void count_ingress(struct __sk_buff *skb)
{
	struct bpf_sock *bs = skb->sk;
	if (!bs || bs->state != BPF_TCP_LISTEN)
		return;
	struct pending *p = this_cpu_pending();
	if (p->kind != PENDING_NONE)
		settle_with_irqs_off(p, 0, 0);
	if (!port_traced(bs->src_port))
		return;
	bool ipv6 = false;
	__u8 th[14];
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 thoff;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data;
		if ((void *)(ip + 1) > end)
			return;
		thoff = ip->ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		ipv6 = true;
		thoff = sizeof(struct ipv6hdr);
	} else {
		return;
	}
	/* the TCP header in place when the packet is linear there, else copied */
	if (thoff >= 20 && thoff <= 60 && data + thoff + sizeof(th) <= end)
		__builtin_memcpy(th, data + thoff, sizeof(th));
	else if (bpf_skb_load_bytes(skb, thoff & 0x3ff, th, sizeof(th)))
		return;
	__u8 flags = th[13] & (TCP_SYN_ | TCP_ACK_ | TCP_RST_);
	__u8 kind = flags == TCP_SYN_ ? PENDING_SYN : flags == TCP_ACK_ ? PENDING_ACK
		  : (flags & TCP_RST_) ? PENDING_RST : PENDING_NONE;
	if (kind == PENDING_NONE)
		return;

	struct tcp_sock *tp = bpf_skc_to_tcp_sock(bs);
	if (!tp)
		return;
	bs = bpf_sk_fullsock(bs);
	if (!bs)
		return;
	__u32 slot = slot_of_listener(bs, tp, skb);

	struct sock *sk = &tp->inet_conn.icsk_inet.sk;
	__u32 q = sk->sk_ack_backlog, qmax = sk->sk_max_ack_backlog;
	__u32 q0 = tp->inet_conn.icsk_accept_queue.qlen.counter;
	p->slot = slot;
	p->sport = (th[0] << 8) | th[1];
	p->dport = (th[2] << 8) | th[3];
	p->retry = 0;
	p->has_conn = 0;
	p->ts = 0;
	p->jiffies = bpf_jiffies64();

	struct tcpq_slot_counts *sc = counts_of(slot);
	if (sc && kind != PENDING_RST) {
		if (q > sc->peak_q)
			sc->peak_q = q;
		if (q0 > sc->peak_q0)
			sc->peak_q0 = q0;
	}

	struct net *net = sk->__sk_common.skc_net.net;
	bool full = kind == PENDING_RST || q + RACE_MARGIN > qmax || q0 + RACE_MARGIN >= qmax ||
		    net->ipv4.sysctl_tcp_syncookies == 2;
	p->full = full;
	__u64 last = last_drop_ns;
	bool remembered = kind == PENDING_SYN && last;
	if (full || remembered)
		p->ts = bpf_ktime_get_ns();
	/* the client's 4-tuple: only where a drop may be remembered or a retry recognised */
	if (kind == PENDING_SYN && (full || (remembered && p->ts - last < DROP_MEMORY_NS)))
		note_conn(skb, p, ipv6, net->ns.inum);
	/* last: nothing above moves the counters */
	p->mib = this_cpu_mib(net);
	if (p->mib)
		read_snapshot(p->mib, full, &p->m, &p->embryonic_rsts);
	/* and the kind after all the rest: the reader (an interrupt) reads a pending only once its
	 * kind is set */
	asm volatile("" ::: "memory");
	p->kind = kind;
}

/* The pending packet is freed with a drop reason. */
static __always_inline int count_kernel_drop(struct sk_buff *skb, __u32 reason)
{
	struct pending *p = this_cpu_pending();
	if (p->kind == PENDING_NONE)
		return 0;
	struct tcphdr *th = KCAST(struct tcphdr, skb->head + skb->transport_header);
	__u32 ports = (__u32)bpf_ntohs(th->source) << 16 | bpf_ntohs(th->dest);
	if (ports != ((__u32)p->sport << 16 | p->dport))
		return 0;
	/* the ports again with interrupts off: a softirq may have noted another packet since */
	settle_with_irqs_off(p, reason, ports);
	return 0;
}

/* The reader, on each CPU as user space reads: a pending verdict whose packet is done. */
static __always_inline void settle_for_reader(void)
{
	struct pending *p = this_cpu_pending();
	unsigned long flags;
	bpf_local_irq_save(&flags);
	if (p->kind != PENDING_NONE && bpf_jiffies64() - p->jiffies >= SETTLE_AGE_JIFFIES)
		settle(p, 0, 0);
	bpf_local_irq_restore(&flags);
}

/* The handshake's time: since the first SYN of a client whose SYN was dropped; else the kernel's
 * own sample, from the first SYN-ACK to the final ACK (tcp_synack_rtt_meas(), taken just before),
 * when the SYN-ACK was sent once; when it was sent n + 1 times, at least the n timeouts between
 * (1 s, doubling: TCP_TIMEOUT_INIT), which is what such a handshake is about. */
static __always_inline void record_handshake(struct tcpq_slot_counts *sc, const struct sock *sk, __u16 lport, __u32 slot)
{
	if (last_drop_ns) {
		__u64 now = bpf_ktime_get_ns();
		if (now - last_drop_ns < DROP_MEMORY_NS) {
			struct conn4 k = { .netns = sk->__sk_common.skc_net.net->ns.inum,
					   .sport = bpf_ntohs(sk->__sk_common.skc_dport), .dport = lport };
			set_addr(k.saddr, &sk->__sk_common, true);
			set_addr(k.daddr, &sk->__sk_common, false);
			struct dropped_syn *d = bpf_map_lookup_elem(&dropped_syns, &k);
			if (d) {
				hist_record(&sc->handshake, now - d->first_ns);
				span_established(sk, slot, lport, now - d->first_ns, d->attempts);
				bpf_map_delete_elem(&dropped_syns, &k);
				return;
			}
		}
	}
	struct tcp_sock *tp = KCAST(struct tcp_sock, sk);
	__u32 retrans = tp->total_retrans;
	if (!retrans) {
		__u32 rtt_us = tp->srtt_us >> 3;
		if (rtt_us) {
			hist_record(&sc->handshake, (__u64)rtt_us * 1000);
			span_established(sk, slot, lport, (__u64)rtt_us * 1000, 0);
		}
	} else if (retrans < 16) {
		hist_record(&sc->handshake, ((1ULL << retrans) - 1) * 1000000000ULL);
		span_established(sk, slot, lport, ((1ULL << retrans) - 1) * 1000000000ULL, 0);
	}
}

static __subprog int count_established(const struct sock *sk)
{
	struct pending *p = this_cpu_pending();
	__u16 lport = sk->__sk_common.skc_num;
	__u32 slot;
	if (p->kind == PENDING_ACK && p->dport == lport && p->sport == bpf_ntohs(sk->__sk_common.skc_dport)) {
		/* the final ACK that made it, on this CPU: its listener's slot */
		slot = p->slot;
		p->kind = PENDING_NONE;
	} else {
		if (!port_traced(lport))
			return 0;
		slot = slot_of_child(sk, lport);
	}
	struct tcpq_slot_counts *sc = counts_of(slot);
	if (!sc)
		return 0;
	sc->n[TCPQ_C_ESTABLISHED] += 1;
	record_handshake(sc, sk, lport, slot);
	return 0;
}

/* A connection left before accept() took it (no struct socket yet): closed or reset while in the
 * accept queue, reset by its own kernel as its listener closed, or a child discarded in SYN_RECV. */
static __subprog int count_unaccepted_close(const struct sock *sk, int oldstate, int newstate)
{
	/* not skc_num: moving to TCP_CLOSE has released the port (inet_put_port() zeroes it) */
	__u16 lport = bpf_ntohs(KCAST(struct inet_sock, sk)->inet_sport);
	if (!port_traced(lport))
		return 0;
	__u32 slot = slot_of_child(sk, lport);
	enum tcpq_counter c = TCPQ_C_ABORT_DISCARDED;
	if (oldstate == TCP_ESTABLISHED) {
		struct tcpq_slot_info *si = bpf_map_lookup_elem(&slot_infos, &slot);
		if (si && si->state == TCPQ_SLOT_CLOSED)
			c = TCPQ_C_ABORT_LISTENER_CLOSED;
		else
			c = newstate == TCP_CLOSE ? TCPQ_C_ABORT_RESET : TCPQ_C_ABORT_CLOSED;
	}
	count(slot, c);
	if (oldstate == TCP_ESTABLISHED)
		span_aborted(sk, slot, lport, c);
	return 0;
}

/* Every TCP state change of the machine: all but four return at the first tests. */
static __always_inline void count_state_change(const struct sock *sk, int oldstate, int newstate)
{
	if (oldstate == TCP_SYN_RECV) {
		if (newstate == TCP_ESTABLISHED)
			count_established(sk);
		else if (newstate == TCP_CLOSE && !sk->sk_socket)
			count_unaccepted_close(sk, oldstate, newstate);
		return;
	}
	if (oldstate == TCP_ESTABLISHED) {
		if ((newstate == TCP_CLOSE || newstate == TCP_CLOSE_WAIT) && !sk->sk_socket &&
		    sk->sk_protocol == IPPROTO_TCP_)
			count_unaccepted_close(sk, oldstate, newstate);
		return;
	}
	if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE)
		listener_closed(sk);
}

/* The listener retransmitted a SYN-ACK: on its timer, or because the client sent its SYN again
 * (the request socket answers it): then the pending SYN on this CPU is that client's retry. */
static __always_inline void count_synack_retransmit(const struct sock *sk, const struct request_sock *req)
{
	__u16 lport = sk->__sk_common.skc_num;
	if (!port_traced(lport))
		return;
	struct pending *p = this_cpu_pending();
	__u32 slot;
	if (p->kind == PENDING_SYN && p->dport == lport && p->sport == bpf_ntohs(req->__req_common.skc_dport)) {
		p->retry = 1;
		slot = p->slot;
	} else {
		struct listener_slot *ls = bpf_sk_storage_get(&listener_slots, (struct sock *)sk, 0, 0);
		slot = ls ? ls->slot : 0;
	}
	count(slot, TCPQ_C_SYNACK_RETRANS);
}

#endif
