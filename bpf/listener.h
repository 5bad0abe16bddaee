/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The listener path, as a packet arrives (cgroup_skb/ingress, before TCP processes it): a SYN
 * (`syn`, and its attempt), a reset of a half-open connection (`abort`), and, for a SYN or a final
 * ACK, the listener's queues and this CPU's TcpExt counters kept as `pending` until verdict.h sees
 * what the listener did with it. */
#ifndef TCPQ_LISTENER_H
#define TCPQ_LISTENER_H

#include "event.h"
#include "conns.h"
#include "mib.h"

#define TCP_FIN_ 0x01
#define TCP_SYN_ 0x02
#define TCP_RST_ 0x04
#define TCP_ACK_ 0x10

/* SYNs whose verdict was missed, per CPU: user space reports them. A SYN is always freed in the
 * window (consume_skb() after tcp_conn_request(), kfree_skb() for a drop before it), so a SYN
 * still pending when the next segment arrives, or found stale, means its free was not seen: the
 * kernel skipped our tp_btf program because it was already running on this CPU (an interrupt's
 * softirq nested in a run of it in process context: bpf_prog_info.recursion_misses), or the
 * vCPU stalled for longer than PENDING_STALE_NS in the window. An ACK may legitimately be
 * freed later (queued to a busy child's backlog), so only SYNs are counted. */
PERCPU_COUNTER(missed);

/* A pending packet not freed within this time is not ours any more (generous: a busy VM's
 * vCPU can stall for tens of ms between the hook and the free). */
#define PENDING_STALE_NS (1000ULL * 1000000ULL)

/* The SYN or ACK a CPU's softirq is processing for a listener, between the ingress hook and
 * the moment the skb is freed. Indexed by CPU: no lookup, no lock. */
struct pending {
	struct conn_key key;
	__u64 listener;   /* struct sock * of the listener */
	__u64 ts;
	__u64 first_ns;
	struct listener_queues qs;
	__u32 attempt;
	__u8 kind;        /* 0, TCPQ_SYN or TCPQ_SYN_AA (a final ACK) */
	__u8 syncookies;
	__u8 pad[2];
	__u64 mib;        /* this CPU's struct linux_mib of the listener's netns, 0 if unknown */
	struct mib_snap m; /* its counters as the segment arrived */
	__u32 gen;        /* bumped by each segment noted: a verdict run tells one that came meanwhile */
	__u32 pad2;
};
struct pending pendings[TCPQ_MAX_CPUS];

static __always_inline struct pending *this_cpu_pending(void)
{
	return &pendings[bpf_get_smp_processor_id() & (TCPQ_MAX_CPUS - 1)];
}

static __always_inline void emit_listener_event(const struct pending *p, __u8 kind, __u64 now,
						__u32 reason)
{
	struct tcpq_event *e = new_event(kind, &p->key, now);
	if (!e)
		return;
	set_queues(e, &p->qs);
	set_attempt(e, p->attempt);
	e->reason = reason;
	if (p->attempt > 1)
		set_wait(e, p->first_ns);
	submit(e);
}

static __always_inline void on_syn(struct pending *p, __u64 now)
{
	struct conn_val *cv = bpf_map_lookup_elem(&conns, &p->key);
	if (cv && cv->sk) {
		/* this 4-tuple's last connection is established and not yet accepted: a new one */
		displace(cv, now);
		cv = NULL;
	}
	if (!cv || (cv->state & CONN_DONE) || now - cv->first_syn_ns > CONN_STALE_NS) {
		struct conn_val nv = { .first_syn_ns = now, .attempts = 1 };
		bpf_map_update_elem(&conns, &p->key, &nv, BPF_ANY);
		p->attempt = 1;
		p->first_ns = now;
	} else {
		cv->attempts += 1;
		p->attempt = cv->attempts;
		p->first_ns = cv->first_syn_ns;
	}
	emit_listener_event(p, TCPQ_SYN, now, 0);
}

static __always_inline void on_rst(struct pending *p, __u64 now)
{
	struct conn_val *cv = bpf_map_lookup_elem(&conns, &p->key);
	if (!cv || (cv->state & CONN_DONE) || cv->sk)
		return;
	/* a reset of a half-open connection (a request socket in the SYN queue) */
	cv->state |= CONN_ABORTED;
	struct tcpq_event *e = new_event(TCPQ_ABORT, &p->key, now);
	if (!e)
		return;
	set_queues(e, &p->qs);
	e->reason = TCPQ_REASON_PEER_RESET;
	set_wait(e, cv->first_syn_ns);
	submit(e);
}

/* A packet for a listening socket on a traced port. Established traffic leaves at the first test:
 * its skb->sk is not a listener. */
static __always_inline void listener_ingress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	if (!sk)
		return;
	if (sk->state != BPF_TCP_LISTEN)
		return;
	if (!port_traced(sk->src_port))
		return;

	/* the headers in place: TCP pulled them into the linear part before its socket filter runs
	 * (two bpf_skb_load_bytes() calls a packet less); the TCP header copied if it is not there */
	struct pending p = {};
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 thoff;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data;
		if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP_)
			return;
		set_v4mapped(p.key.saddr, ip->saddr);
		set_v4mapped(p.key.daddr, ip->daddr);
		thoff = ip->ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data;
		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP_)
			return;
		__builtin_memcpy(p.key.saddr, &ip6->saddr, 16);
		__builtin_memcpy(p.key.daddr, &ip6->daddr, 16);
		thoff = sizeof(*ip6);
	} else {
		return;
	}
	__u8 th[14];
	if (thoff >= 20 && thoff <= 60 && data + thoff + sizeof(th) <= end)
		__builtin_memcpy(th, data + thoff, sizeof(th));
	else if (bpf_skb_load_bytes(skb, thoff & 0x3ff, th, sizeof(th)))
		return;
	__u8 flags = th[13];
	p.key.sport = (th[0] << 8) | th[1];
	p.key.dport = (th[2] << 8) | th[3];

	/* NULL unless a TCP socket */
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return;
	p.key.netns = netns_inum(tp->inet_conn.icsk_inet.sk.__sk_common.skc_net.net);
	read_queues((const struct inet_connection_sock *)tp, &p.qs);
	__u64 now = bpf_ktime_get_ns();
	p.ts = now;
	p.listener = (__u64)tp;

	if ((flags & (TCP_SYN_ | TCP_ACK_ | TCP_RST_)) == TCP_SYN_) {
		p.kind = TCPQ_SYN;
		p.syncookies = tp->inet_conn.icsk_inet.sk.__sk_common.skc_net.net->ipv4.sysctl_tcp_syncookies;
		on_syn(&p, now);
	} else if ((flags & (TCP_SYN_ | TCP_ACK_ | TCP_RST_)) == TCP_ACK_) {
		p.kind = TCPQ_SYN_AA;
	} else if (flags & TCP_RST_) {
		on_rst(&p, now);
		return;
	} else {
		return;
	}
	/* last: nothing above moves the counters */
	p.mib = this_cpu_mib(tp->inet_conn.icsk_inet.sk.__sk_common.skc_net.net);
	if (p.mib)
		read_mib(p.mib, &p.m);
	struct pending *slot = this_cpu_pending();
	if (slot->kind == TCPQ_SYN)
		bump(&missed);
	p.gen = slot->gen + 1;
	*slot = p;
}

#endif
