/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* An event (struct tcpq_event in tcpq.h): the key of the connection it is about, made, filled
 * field by field with the flag that says the field holds a value, then sent by submit(): a row in
 * the ring buffer. (serve and top count in an object of their own, bpf/count.bpf.c.) */
#ifndef TCPQ_EVENT_H
#define TCPQ_EVENT_H

#include "common.h"

/* Rows go into a ring buffer of this CPU's own: user space makes one per possible CPU before load
 * (--ring-buffer-kb split among them: TraceConfig.RingBytesPerCpu), puts them here, and merges
 * what it reads back into time order (src/Tcpq/Bpf/RecordsInTimeOrder.cs). One ring shared by
 * every CPU was the costliest part of a row: each reserve took its lock and pulled the producer
 * position and the last record's header from the other CPU's cache (perf: __bpf_ringbuf_reserve
 * 2.1 % of all CPU at 50k connections/s, ~0.2 us a row; 0.3 % with a ring per CPU). */
struct cpu_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct cpu_ring);
} events SEC(".maps");

/* this CPU's ring: a program runs on one CPU from start to end */
static __always_inline void *this_cpu_ring(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&events, &cpu);
}

/* Events that did not fit in the ring buffer, per CPU: user space reports them. */
PERCPU_COUNTER(lost);

/* A connection: the client is saddr/sport, the listener daddr/dport; addresses as in the event. */
struct conn_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 netns;
	__u16 sport;
	__u16 dport;
};

static __always_inline void set_v4mapped(__u8 *dst, __be32 a)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &a, 4);
}

static __always_inline void copy_in6(__u8 *dst, const struct in6_addr *a)
{
	__u32 *d = (__u32 *)dst;
	d[0] = a->in6_u.u6_addr32[0];
	d[1] = a->in6_u.u6_addr32[1];
	d[2] = a->in6_u.u6_addr32[2];
	d[3] = a->in6_u.u6_addr32[3];
}

/* skc_num, or inet_sport when it is 0: moving to TCP_CLOSE releases the port (inet_num = 0)
 * before the state change is traced. skc_num first: it shares a cache line with the addresses,
 * read anyway, where inet_sport, further into struct inet_sock, is one more line to fetch. */
static __always_inline __u16 local_port(const struct sock *sk)
{
	__u16 num = KCAST(struct sock, sk)->__sk_common.skc_num;
	return num ? num : bpf_ntohs(KCAST(struct inet_sock, sk)->inet_sport);
}

/* The network namespace's inode number, in every row's key. struct net keeps it next to the
 * namespace's reference count, which every socket's creation and destruction changes, so on a
 * busy machine that line is more often than not in another CPU's cache (perf: the load that
 * stalled tcpq_ingress most). Each CPU remembers the last namespace it saw, by net_cookie (never
 * reused, read-mostly), with its inode number in one 64-bit word: a program nested on this CPU
 * (a softirq) never sees half an update. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64); /* low 32 bits of net_cookie << 32 | inode number */
} netns_seen SEC(".maps");

static __always_inline __u32 netns_inum(const struct net *net)
{
	struct net *n = KCAST(struct net, net);
	__u64 cookie = (__u32)n->net_cookie;
	__u32 zero = 0;
	__u64 *seen = bpf_map_lookup_elem(&netns_seen, &zero);
	if (seen && *seen >> 32 == cookie && cookie)
		return (__u32)*seen;
	__u32 inum = n->ns.inum;
	if (seen)
		*seen = cookie << 32 | inum;
	return inum;
}

/* The 4-tuple of a connection's socket or request socket (the client is its remote end). The
 * local port is the caller's: skc_num is 0 in a socket that TCP_CLOSE released. A request
 * socket's skc_net is its listener's.
 * Callers cast: sock_common is the first member of sock and request_sock (the kernel's
 * req_to_sk() relies on it), and `&sk->__sk_common` would cost a relocated add. */
static __always_inline void key_from_common(const struct sock_common *c, __u16 lport,
					    struct conn_key *k)
{
	if (c->skc_family == AF_INET) {
		set_v4mapped(k->saddr, c->skc_daddr);
		set_v4mapped(k->daddr, c->skc_rcv_saddr);
	} else {
		/* an IPv4 client of a dual-stack listener is already ::ffff:a.b.c.d here */
		copy_in6(k->saddr, &c->skc_v6_daddr);
		copy_in6(k->daddr, &c->skc_v6_rcv_saddr);
	}
	k->sport = bpf_ntohs(c->skc_dport);
	k->dport = lport;
	k->netns = netns_inum(c->skc_net.net);
}

/* How every hook on a connection's own socket begins: a TCP socket (inet_sock_set_state fires for
 * other protocols too), on a port tcpq traces, and its key. `closing`: the socket may be in
 * TCP_CLOSE, with its port released (see local_port()); if not, skc_num is the cheaper load.
 * Callers pass a constant, so each keeps one of the two loads. */
static __always_inline bool traced_conn(const struct sock *sk, bool closing, struct conn_key *k)
{
	if (sk->sk_protocol != IPPROTO_TCP_)
		return false;
	__u16 lport = closing ? local_port(sk) : sk->__sk_common.skc_num;
	if (!port_traced(lport))
		return false;
	__builtin_memset(k, 0, sizeof(*k));
	key_from_common((const struct sock_common *)sk, lport, k);
	return true;
}

static __always_inline struct tcpq_event *reserve(void)
{
	void *ring = this_cpu_ring();
	struct tcpq_event *e = ring ? bpf_ringbuf_reserve(ring, sizeof(*e), 0) : NULL;
	if (!e) {
		bump(&lost);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	return e;
}

/* A zeroed event of this kind for this connection, reserved in the ring buffer, or NULL when the
 * kind is not traced or the ring buffer is full. The set_*() helpers below fill a field and the
 * flag that says it is valid. */
static __always_inline struct tcpq_event *new_event(__u8 kind, const struct conn_key *k, __u64 now)
{
	if (!kind_on(kind))
		return NULL;
	struct tcpq_event *e = reserve();
	if (!e)
		return NULL;
	e->ts_ns = now;
	e->kind = kind;
	__builtin_memcpy(e->saddr, k->saddr, 16);
	__builtin_memcpy(e->daddr, k->daddr, 16);
	e->netns = k->netns;
	e->sport = k->sport;
	e->dport = k->dport;
	return e;
}

/* A listener's queues at one moment: the fields behind TCPQ_F_QUEUES and TCPQ_F_DROPS. */
struct listener_queues {
	__u32 q0, q, qmax, drops;
};

static __always_inline void read_queues(const struct inet_connection_sock *icsk,
					struct listener_queues *qs)
{
	qs->q0 = icsk->icsk_accept_queue.qlen.counter;
	qs->q = icsk->icsk_inet.sk.sk_ack_backlog;
	qs->qmax = icsk->icsk_inet.sk.sk_max_ack_backlog;
	qs->drops = icsk->icsk_inet.sk.sk_drops.counter;
}

static __always_inline void set_queues(struct tcpq_event *e, const struct listener_queues *qs)
{
	e->q0 = qs->q0;
	e->q = qs->q;
	e->qmax = qs->qmax;
	e->drops = qs->drops;
	e->flags |= TCPQ_F_QUEUES | TCPQ_F_DROPS;
}

/* the time from `since` to the event */
static __always_inline void set_wait(struct tcpq_event *e, __u64 since)
{
	e->wait_ns = e->ts_ns - since;
	e->flags |= TCPQ_F_WAIT;
}

static __always_inline void set_attempt(struct tcpq_event *e, __u32 attempt)
{
	e->attempt = attempt;
	e->flags |= TCPQ_F_ATTEMPT;
}

/* The process running now: its name, not the thread's (a runtime's worker threads have their
 * own). The caller passes the task it already holds. */
static __always_inline void set_task(struct tcpq_event *e, struct task_struct *task)
{
	__builtin_memcpy(e->comm, task->group_leader->comm, sizeof(e->comm));
	e->flags |= TCPQ_F_TASK;
	/* last: after a helper call the compiler reloads what it wrote to the event */
	e->pid = bpf_get_current_pid_tgid() >> 32;
}

/* The reader polls every 50 ms; it is woken early only when this CPU's unread data crosses a
 * quarter of its ring, by the one record that crosses it. A wake-up is an irq_work: a self-IPI,
 * which in a VM is an exit costing about a microsecond. Waking on every record past a threshold
 * raised one per record whenever the reader was behind (1 us per connection at 50k
 * connections/s), and waking on every record in a band past it, ~60 per crossing. A record
 * reserved by a program nested on this CPU (a softirq) between our reserve and our query can make
 * the crossing unseen: then the 50 ms timer reads, as it does for a ring below the mark. */
#define RING_RECORD_BYTES ((sizeof(struct tcpq_event) + 8 + 7) / 8 * 8) /* with its header */
static __always_inline void submit(struct tcpq_event *e)
{
	void *ring = this_cpu_ring();
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (ring) {
		__u64 avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
		__u64 mark = bpf_ringbuf_query(ring, BPF_RB_RING_SIZE) / 4;
		if (avail >= mark && avail < mark + RING_RECORD_BYTES)
			flags = BPF_RB_FORCE_WAKEUP;
	}
	bpf_ringbuf_submit(e, flags);
}

#endif
