// SPDX-License-Identifier: GPL-2.0 OR MIT
/* tcpq's kernel side: follows each incoming TCP connection from its SYN to accept().
 *
 *   cgroup_skb/ingress      SYN / final ACK / RST arriving at a listener: queue lengths as the
 *                           packet arrives (the seed's tcp_conn_request probe), `syn`, `abort`
 *   tp_btf/consume_skb      right after the listener processed that SYN or ACK, on the same
 *   tp_btf/kfree_skb        CPU: what this CPU's TcpExt counters say the kernel did with it
 *                           (dropped, refused, cookied), or a drop reason before the listener
 *   tp_btf/inet_sock_set_state  SYN_RECV -> ESTABLISHED (`syn-aa`), reset/closed while queued,
 *                           a child socket discarded before it was established
 *   tp_btf/tcp_retransmit_synack
 *   tracepoint/syscalls/sys_exit_accept{,4}   the process that accepted it
 *   tp_btf/sock_recv_length, sock_send_length, sk_data_ready   into the application: its
 *                           first read and write of a followed connection (per-socket storage)
 *
 * Every packet hook returns 1: tcpq never changes traffic. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "tcpq.h"

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP_ 6
#define TCPQ_MAX_CPUS 1024
#define TCP_FIN_ 0x01
#define TCP_SYN_ 0x02
#define TCP_RST_ 0x04
#define TCP_ACK_ 0x10
/* A client retries a SYN for at most ~127 s by default; an older entry is a new connection. */
#define CONN_STALE_NS (180ULL * 1000000000ULL)
/* A pending packet not freed within this time is not ours any more (generous: a busy VM's
 * vCPU can stall for tens of ms between the hook and the free). */
#define PENDING_STALE_NS (1000ULL * 1000000ULL)

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* A read-only typed view of a kernel pointer: plain loads (a fault reads 0) instead of a
 * bpf_probe_read_kernel() call per field, which perf showed at ~0.25 us per connection. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define KCAST(type, ptr) ((type *)bpf_rdonly_cast((void *)(ptr), bpf_core_type_id_kernel(type)))

/* Set by user space before load (struct tcpq_config in tcpq.h). */
const volatile struct tcpq_config cfg = { .nports = 0, .kinds = 0xffffffff, .mode = TCPQ_MODE_ROWS };

/* Never read: the programs use these types only through locals and constants, which leave no
 * BTF, so these put them into the object's BTF, where tests/Tcpq.Tests/EventLayoutTests.cs
 * compares them with the C# side. */
const struct tcpq_event *tcpq_btf_event __attribute__((unused));
const enum tcpq_kind *tcpq_btf_kind __attribute__((unused));
const enum tcpq_reason *tcpq_btf_reason __attribute__((unused));
const enum tcpq_flag *tcpq_btf_flag __attribute__((unused));
const enum tcpq_closer *tcpq_btf_closer __attribute__((unused));

/* 4 MiB by default: user space may resize it before load (--ring-buffer-kb). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} events SEC(".maps");

/* Events that did not fit in the ring buffer, per CPU: user space reports them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

#include "aggregates.h"

struct conn_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 netns;
	__u16 sport;
	__u16 dport;
};

/* conn_val.state, in `conns` only: the client reset the half-open connection */
#define CONN_ABORTED 0x2

struct conn_val {
	__u64 first_syn_ns;
	__u64 established_ns;
	__u32 attempts;
	__u32 state;
	__u32 ack_drops;  /* segments of this handshake the listener refused (ack-drop's Attempt) */
	__u32 pad;
};

/* One entry per half-open connection, by 4-tuple, from its first SYN until it is established
 * (then it moves to `queued`); LRU keeps it bounded under a SYN flood (the oldest half-open
 * entries go first). Per-CPU LRU lists: no shared lock on the SYN path. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, struct conn_val);
} conns SEC(".maps");

/* One entry per established connection waiting in an accept queue, by its socket (struct sock *),
 * until accept(). Not by 4-tuple: a client that reset a queued connection can reuse its port at
 * once, and the new connection's SYN then comes with the same 4-tuple while the old one still
 * waits to be accepted (a burst test found 29 in 16,000 such accepts without their wait). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct conn_val);
} queued SEC(".maps");

/* ---- the kernel's own verdict: this CPU's TcpExt counters (issue #10) ----
 *
 * The kernel counts a listen drop per segment (tcp_listendrop(): the listener's sk_drops and
 * LINUX_MIB_LISTENDROPS), on paths that mostly leave no drop reason: tcp_conn_request() refuses
 * a SYN and the SYN is consume_skb()ed; tcp_check_req() -> syn_recv_sock() refuses a final ACK,
 * a data segment or a retransmitted ACK on a request socket (TCP_LISTEN_OVERFLOW); a SYN-cookie
 * ACK refused in cookie_v4/v6_check() -> tcp_get_cookie_sock() is freed as NO_SOCKET. The
 * listener's sk_drops cannot tell them apart and is shared by every CPU: its delta over one
 * segment also holds another CPU's drop.
 *
 * The netns's MIB counters are per CPU (net->mib.net_statistics, struct linux_mib), bumped with
 * __this_cpu_inc() by the CPU that processes the segment. A CPU's softirq processes one segment
 * from our ingress hook (tcp_filter() in tcp_v4_rcv()/tcp_v6_rcv()) to its free without anything
 * else on that CPU in between: BH are off and, outside PREEMPT_RT, nothing preempts it (hard
 * interrupts do not touch these counters; a SYN-ACK or RST the segment causes is queued to the
 * backlog, processed after). So THIS CPU's delta of LINUX_MIB_LISTENDROPS (and friends) between
 * the hook and the free is what the kernel counted for that very segment: exact, not inferred.
 *
 * Assumes: not PREEMPT_RT (user space says so if it is); the LINUX_MIB_* indices, taken from
 * vmlinux.h at build time, are the UAPI enum of include/uapi/linux/snmp.h, only ever appended
 * to (checked here against the running kernel's size of linux_mib.mibs); a per-CPU pointer is
 * base + __per_cpu_offset[cpu]. This kernel's BTF has no percpu type tags and its kallsyms no
 * __per_cpu_offset, so bpf_this_cpu_ptr() cannot be used: the offset is found once per CPU from
 * cpu_mibs below, a per-CPU array whose value for this CPU (bpf_map_lookup_elem()) minus its
 * per-CPU base (bpf_array.pptrs[0]) IS this CPU's offset. The counters are then plain loads
 * through bpf_rdonly_cast() (a fault reads 0).
 * When the counters cannot be found, the verdict falls back to the inference from sk_drops and
 * the cookie rule, and counts itself in `uncounted`: user space says so on stderr, once. */
struct mib_snap {
	__u32 listendrops;  /* LINUX_MIB_LISTENDROPS: TcpExtListenDrops, what the rows add up to */
	__u32 overflows;    /* LINUX_MIB_LISTENOVERFLOWS: the accept queue was full */
	__u32 reqqfulldrop; /* LINUX_MIB_TCPREQQFULLDROP: the SYN queue was full, no cookies */
	__u32 cookiessent;  /* LINUX_MIB_SYNCOOKIESSENT: the SYN was answered with a cookie */
	__u32 cookiesrecv;  /* LINUX_MIB_SYNCOOKIESRECV: the ACK carried a valid cookie */
};

#define MIB_UNKNOWN 0 /* not yet looked for on this CPU */
#define MIB_FOUND 1
#define MIB_NONE 2    /* cannot be found: fall back */

/* Per CPU: its per-CPU offset, and this CPU's struct linux_mib of the last netns seen (by
 * net_cookie, which is never reused), kept as numbers: a pointer loaded from a kernel struct
 * cannot take a 64-bit offset in the verifier's eyes. */
struct cpu_mib {
	__u64 off;
	__u64 net_cookie;
	__u64 mib;
	__u32 state;      /* MIB_* */
	__u32 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_mib);
} cpu_mibs SEC(".maps");

/* Verdicts made without the counters, per CPU: user space reports them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} uncounted SEC(".maps");

/* SYNs whose verdict was missed, per CPU: user space reports them. A SYN is always freed in the
 * window (consume_skb() after tcp_conn_request(), kfree_skb() for a drop before it), so a SYN
 * still pending when the next segment arrives, or found stale, means its free was not seen: the
 * kernel skipped our tp_btf program because it was already running on this CPU (an interrupt's
 * softirq nested in a run of it in process context: bpf_prog_info.recursion_misses), or the
 * vCPU stalled for longer than PENDING_STALE_NS in the window. An ACK may legitimately be
 * freed later (queued to a busy child's backlog), so only SYNs are counted. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} missed SEC(".maps");

static __always_inline void count(void *map)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(map, &zero);
	if (n)
		*n += 1;
}

/* The highest LINUX_MIB_* index read: the running kernel's linux_mib must hold it. */
#define MIB_HIGHEST LINUX_MIB_TCPREQQFULLDROP

static __always_inline bool find_cpu_offset(struct cpu_mib *c)
{
	if (MIB_HIGHEST >= bpf_core_field_size(struct linux_mib, mibs) / sizeof(unsigned long) ||
	    !bpf_core_field_exists(struct bpf_array, pptrs)) {
		c->state = MIB_NONE;
		return false;
	}
	/* both pointers as numbers: copied, so the verifier sees scalars */
	__u64 mine = 0, base = 0;
	if (bpf_probe_read_kernel(&mine, sizeof(mine), &c) ||
	    bpf_probe_read_kernel(&base, sizeof(base), &KCAST(struct bpf_array, &cpu_mibs)->pptrs[0]) ||
	    !base || mine < base) {
		c->state = MIB_NONE;
		return false;
	}
	c->off = mine - base;
	c->state = MIB_FOUND;
	return true;
}

/* The address of this CPU's struct linux_mib of a netns, or 0 when it cannot be found. */
static __always_inline __u64 this_cpu_mib(const struct net *net)
{
	__u32 zero = 0;
	struct cpu_mib *c = bpf_map_lookup_elem(&cpu_mibs, &zero);
	if (!c || c->state == MIB_NONE)
		return 0;
	if (c->state == MIB_UNKNOWN && !find_cpu_offset(c))
		return 0;
	struct net *n = KCAST(struct net, net);
	__u64 cookie = n->net_cookie;
	if (c->net_cookie != cookie || !c->mib) {
		__u64 base = 0;
		if (bpf_probe_read_kernel(&base, sizeof(base), &n->mib.net_statistics) || !base)
			return 0;
		c->net_cookie = cookie;
		c->mib = base + c->off;
	}
	return c->mib;
}

static __always_inline void read_mib(__u64 addr, struct mib_snap *m)
{
	struct linux_mib *mib = KCAST(struct linux_mib, addr);
	m->listendrops = mib->mibs[LINUX_MIB_LISTENDROPS];
	m->overflows = mib->mibs[LINUX_MIB_LISTENOVERFLOWS];
	m->reqqfulldrop = mib->mibs[LINUX_MIB_TCPREQQFULLDROP];
	m->cookiessent = mib->mibs[LINUX_MIB_SYNCOOKIESSENT];
	m->cookiesrecv = mib->mibs[LINUX_MIB_SYNCOOKIESRECV];
}

/* A listener's queues at one moment: the fields behind TCPQ_F_QUEUES and TCPQ_F_DROPS. */
struct listener_queues {
	__u32 q0, q, qmax, drops;
};

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
};
struct pending pendings[TCPQ_MAX_CPUS];

static __always_inline bool kind_on(__u8 kind)
{
	return cfg.kinds & (1U << kind);
}

static __always_inline bool port_traced(__u16 port)
{
	if (cfg.nports == 0)
		return true;
	for (int i = 0; i < TCPQ_MAX_PORTS; i++) {
		if (i >= cfg.nports)
			break;
		if (cfg.ports[i] == port)
			return true;
	}
	return false;
}

static __always_inline struct tcpq_event *reserve(void)
{
	struct tcpq_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			*n += 1;
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	return e;
}

/* The reader polls every 50 ms; it is woken early only when the unread data crosses a quarter
 * of the ring, by the few records that land in a narrow band there. A wake-up is an irq_work:
 * a self-IPI, which in a VM is an exit costing about a microsecond. Waking on every record past a
 * threshold (as before) raised one per record whenever the reader was behind: 1 us per
 * connection at 50k connections/s. The band is far wider than what CPUs can reserve between one
 * producer's reserve and its query, so a crossing is not missed; if it were, the timer reads. */
#define WAKE_BAND 8192
static __always_inline void submit(struct tcpq_event *e)
{
	if (!(cfg.mode & TCPQ_MODE_ROWS)) {
		account(e);
		return;
	}
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 mark = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 4;
	bpf_ringbuf_submit(e, avail >= mark && avail < mark + WAKE_BAND ? BPF_RB_FORCE_WAKEUP
									  : BPF_RB_NO_WAKEUP);
}

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

/* A zeroed event of this kind for this connection, or NULL when the kind is not traced or the
 * ring buffer is full. The set_*() helpers below fill a field and the flag that says it is valid.
 * Rows go straight into the ring buffer; when only counted (serve, top), the event is built in
 * the caller's `stack` slot and never leaves the kernel. */
static __always_inline struct tcpq_event *new_event(struct tcpq_event *stack, __u8 kind,
						    const struct conn_key *k, __u64 now)
{
	struct tcpq_event *e;
	if (cfg.mode & TCPQ_MODE_ROWS) {
		if (!kind_on(kind))
			return NULL;
		e = reserve();
		if (!e)
			return NULL;
	} else {
		e = stack;
		__builtin_memset(e, 0, sizeof(*e));
	}
	e->ts_ns = now;
	e->kind = kind;
	__builtin_memcpy(e->saddr, k->saddr, 16);
	__builtin_memcpy(e->daddr, k->daddr, 16);
	e->netns = k->netns;
	e->sport = k->sport;
	e->dport = k->dport;
	return e;
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

/* ---- into the application (issue #13): what a followed connection's socket holds ----
 *
 * A connection is followed from SYN_RECV -> ESTABLISHED (a port tcpq traces, and first-read,
 * first-write or close asked for) in socket-local storage: the per-operation hooks
 * (sock_recv_length / sock_send_length, fired for every socket on the machine, io_uring's too)
 * find nothing on any other socket and return after one helper call, with no shared hash. The
 * storage dies with its socket, so a later connection on the same fd (or at the same address)
 * starts empty. A connection stops being followed (its storage deleted) after its first read and
 * first write, unless close is asked for: then every read and write adds up its bytes. */
#define APP_READ 0x1     /* its first read is done */
#define APP_WROTE 0x2    /* its first write is done */
#define APP_OWNED 0x4    /* an application held it (left ESTABLISHED with a struct socket) */

struct app_conn {
	__u64 established_ns;
	__u64 accept_ns;      /* 0 until known (accept() seen, see `accepts`) */
	__u64 first_data_ns;  /* the first sk_data_ready: data waits in the socket */
	__u64 first_read_ns;
	__u64 bytes_in;
	__u64 bytes_out;
	__u64 flags;          /* APP_*; 64 bits for the atomics of BPF's default CPU version */
	__u8 closer;          /* enum tcpq_closer, set as it leaves ESTABLISHED */
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct app_conn);
} app_conns SEC(".maps");

/* accept() is a syscall tracepoint, which cannot reach socket storage: it leaves the time here,
 * by socket, and the connection's first operation takes it (an entry older than the socket's
 * own establishment is a freed socket's, whose address was reused). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} accepts SEC(".maps");

#define APP_KINDS ((1U << TCPQ_FIRST_READ) | (1U << TCPQ_FIRST_WRITE) | (1U << TCPQ_CLOSE))

static __always_inline bool app_on(void)
{
	return cfg.kinds & APP_KINDS;
}

/* ---- the listener side: packets arriving at a listening socket ---- */

static __always_inline void read_queues(const struct inet_connection_sock *icsk,
					struct listener_queues *qs)
{
	qs->q0 = icsk->icsk_accept_queue.qlen.counter;
	qs->q = icsk->icsk_inet.sk.sk_ack_backlog;
	qs->qmax = icsk->icsk_inet.sk.sk_max_ack_backlog;
	qs->drops = icsk->icsk_inet.sk.sk_drops.counter;
}

static __always_inline void emit_listener_event(const struct pending *p, __u8 kind, __u64 now,
						__u32 reason)
{
	struct tcpq_event ev;
	struct tcpq_event *e = new_event(&ev, kind, &p->key, now);
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
	if (!cv || (cv->state & CONN_ABORTED) || now - cv->first_syn_ns > CONN_STALE_NS) {
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
	if (!cv || (cv->state & CONN_ABORTED))
		return;
	/* a reset of a half-open connection (a request socket in the SYN queue) */
	cv->state |= CONN_ABORTED;
	struct tcpq_event ev;
	struct tcpq_event *e = new_event(&ev, TCPQ_ABORT, &p->key, now);
	if (!e)
		return;
	set_queues(e, &p->qs);
	e->reason = TCPQ_REASON_PEER_RESET;
	set_wait(e, cv->first_syn_ns);
	submit(e);
}

SEC("cgroup_skb/ingress")
int tcpq_ingress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	if (!sk)
		return 1;
	/* Established traffic leaves here: its skb->sk is not a listener. */
	if (sk->state != BPF_TCP_LISTEN)
		return 1;
	if (!port_traced(sk->src_port))
		return 1;

	struct pending p = {};
	__u32 thoff;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			return 1;
		if (ip.protocol != IPPROTO_TCP_)
			return 1;
		set_v4mapped(p.key.saddr, ip.saddr);
		set_v4mapped(p.key.daddr, ip.daddr);
		thoff = ip.ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return 1;
		if (ip6.nexthdr != IPPROTO_TCP_)
			return 1;
		__builtin_memcpy(p.key.saddr, &ip6.saddr, 16);
		__builtin_memcpy(p.key.daddr, &ip6.daddr, 16);
		thoff = sizeof(ip6);
	} else {
		return 1;
	}
	__u8 th[14];
	if (bpf_skb_load_bytes(skb, thoff & 0x3ff, th, sizeof(th)))
		return 1;
	__u8 flags = th[13];
	p.key.sport = (th[0] << 8) | th[1];
	p.key.dport = (th[2] << 8) | th[3];

	/* NULL unless a TCP socket */
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 1;
	p.key.netns = tp->inet_conn.icsk_inet.sk.__sk_common.skc_net.net->ns.inum;
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
		return 1;
	} else {
		return 1;
	}
	/* last: nothing above moves the counters */
	p.mib = this_cpu_mib(tp->inet_conn.icsk_inet.sk.__sk_common.skc_net.net);
	if (p.mib)
		read_mib(p.mib, &p.m);
	__u32 cpu = bpf_get_smp_processor_id() & (TCPQ_MAX_CPUS - 1);
	if (pendings[cpu].kind == TCPQ_SYN)
		count(&missed);
	pendings[cpu] = p;
	return 1;
}

/* ---- the verdict: the listener has processed the packet and frees it ---- */

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
	count(&uncounted);
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

static __always_inline int finish_pending(struct sk_buff *skb, __u32 reason)
{
	__u32 cpu = bpf_get_smp_processor_id() & (TCPQ_MAX_CPUS - 1);
	struct pending *p = &pendings[cpu];
	if (!p->kind)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	if (now - p->ts > PENDING_STALE_NS) {
		if (p->kind == TCPQ_SYN)
			count(&missed);
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

SEC("tp_btf/consume_skb")
int BPF_PROG(tcpq_consume_skb, struct sk_buff *skb)
{
	return finish_pending(skb, 0);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(tcpq_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	return finish_pending(skb, reason);
}

/* ---- the connection's own socket ---- */

/* inet_sport, not skc_num: moving to TCP_CLOSE releases the port (inet_num = 0) before the
 * state change is traced. */
static __always_inline __u16 local_port(const struct sock *sk)
{
	return bpf_ntohs(KCAST(struct inet_sock, sk)->inet_sport);
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
	k->netns = c->skc_net.net->ns.inum;
}

/* SYN_RECV -> ESTABLISHED: the handshake is complete and the connection waits in the accept
 * queue (`syn-aa`). Its entry moves from the half-open table (by 4-tuple) to the queued one (by
 * socket). */
static __noinline void on_established(const struct sock *sk)
{
	if (sk->sk_protocol != IPPROTO_TCP_)
		return;
	/* skc_num is a plain load and right until TCP_CLOSE releases the port */
	if (!port_traced(sk->__sk_common.skc_num))
		return;

	struct conn_key k = {};
	key_from_common((const struct sock_common *)sk, local_port(sk), &k);
	__u64 now = bpf_ktime_get_ns();
	__u64 sk_key = (__u64)sk;
	struct conn_val qv = { .established_ns = now };
	struct conn_val *hv = bpf_map_lookup_elem(&conns, &k);
	if (hv) {
		if (!(hv->state & CONN_ABORTED)) {
			qv.first_syn_ns = hv->first_syn_ns;
			qv.attempts = hv->attempts;
		}
		bpf_map_delete_elem(&conns, &k);
	}
	bpf_map_update_elem(&queued, &sk_key, &qv, BPF_ANY);
	if (app_on()) {
		struct app_conn *a = bpf_sk_storage_get(&app_conns, (struct sock *)sk, 0,
							BPF_SK_STORAGE_GET_F_CREATE);
		if (a)
			a->established_ns = now;
	}

	/* the final ACK that made it: take its queue snapshot, and it is no longer pending */
	struct listener_queues ack = {};
	bool acked = false;
	__u32 cpu = bpf_get_smp_processor_id() & (TCPQ_MAX_CPUS - 1);
	struct pending *p = &pendings[cpu];
	if (p->kind == TCPQ_SYN_AA && p->key.sport == k.sport && p->key.dport == k.dport) {
		ack = p->qs;
		acked = true;
		p->kind = 0;
	}

	struct tcpq_event ev;
	struct tcpq_event *e = new_event(&ev, TCPQ_SYN_AA, &k, now);
	if (!e)
		return;
	/* the queues as the final ACK arrived, as the seed printed them */
	if (acked)
		set_queues(e, &ack);
	if (qv.first_syn_ns) {
		set_wait(e, qv.first_syn_ns);
		set_attempt(e, qv.attempts);
	}
	submit(e);
}

/* A connection still waiting in the accept queue was reset (TCP_CLOSE) or closed (TCP_CLOSE_WAIT)
 * by the client (`abort`). accept() deletes a connection's entry, so only these are found. */
static __noinline void on_queued_close(const struct sock *sk, int newstate)
{
	if (sk->sk_protocol != IPPROTO_TCP_)
		return;
	if (!port_traced(local_port(sk)))
		return;

	struct conn_key k = {};
	key_from_common((const struct sock_common *)sk, local_port(sk), &k);
	__u64 now = bpf_ktime_get_ns();
	__u64 sk_key = (__u64)sk;
	/* no flag against a second abort: a socket leaves ESTABLISHED only once */
	struct conn_val *cv = bpf_map_lookup_elem(&queued, &sk_key);
	if (!cv)
		return;
	struct conn_val qv = *cv;

	struct tcpq_event ev;
	struct tcpq_event *e = new_event(&ev, TCPQ_ABORT, &k, now);
	if (!e)
		return;
	e->reason = newstate == TCP_CLOSE ? TCPQ_REASON_PEER_RESET : TCPQ_REASON_PEER_CLOSED;
	set_wait(e, qv.established_ns);
	if (qv.attempts)
		set_attempt(e, qv.attempts);
	submit(e);
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
static __noinline void on_child_discarded(const struct sock *sk)
{
	if (sk->sk_protocol != IPPROTO_TCP_)
		return;
	__u16 lport = local_port(sk);
	if (!port_traced(lport))
		return;
	struct conn_key k = {};
	key_from_common((const struct sock_common *)sk, lport, &k);
	struct tcpq_event ev;
	struct tcpq_event *e = new_event(&ev, TCPQ_ABORT, &k, bpf_ktime_get_ns());
	if (!e)
		return;
	e->reason = TCPQ_REASON_CHILD_DISCARDED;
	struct conn_val *cv = bpf_map_lookup_elem(&conns, &k);
	if (cv && !(cv->state & CONN_ABORTED)) {
		set_wait(e, cv->first_syn_ns);
		set_attempt(e, cv->attempts);
	}
	submit(e);
}

static __noinline void on_app_state(struct sock *sk, int oldstate, int newstate);

/* Its four jobs are subprograms (__noinline), each with its own stack frame: inlined, their events
 * (struct tcpq_event built on the stack when only counted) would not fit the 512-byte stack together. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcpq_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (app_on() && ((oldstate == TCP_ESTABLISHED && newstate != TCP_ESTABLISHED) ||
			 (newstate == TCP_CLOSE && oldstate != TCP_SYN_RECV)))
		on_app_state((struct sock *)sk, oldstate, newstate);
	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		on_established(sk);
		return 0;
	}
	/* closed while queued: no accept() has grafted it to a socket yet (every accepted or
	 * connect()ed socket leaves here without a lookup) */
	if (oldstate == TCP_ESTABLISHED && (newstate == TCP_CLOSE || newstate == TCP_CLOSE_WAIT) &&
	    !sk->sk_socket)
		on_queued_close(sk, newstate);
	else if (oldstate == TCP_SYN_RECV && newstate == TCP_CLOSE && !sk->sk_socket)
		on_child_discarded(sk);
	return 0;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(tcpq_synack_retrans, const struct sock *sk, const struct request_sock *req)
{
	if (!kind_on(TCPQ_SYNACK_RETRANS) || !port_traced(sk->__sk_common.skc_num))
		return 0;
	struct conn_key k = {};
	key_from_common((const struct sock_common *)req, req->__req_common.skc_num, &k);

	struct tcpq_event ev;
	struct tcpq_event *e = new_event(&ev, TCPQ_SYNACK_RETRANS, &k, bpf_ktime_get_ns());
	if (!e)
		return 0;
	struct listener_queues qs;
	read_queues(KCAST(struct inet_connection_sock, sk), &qs);
	set_queues(e, &qs);
	/* the n-th retransmission: num_retrans counts those already sent */
	set_attempt(e, req->num_retrans + 1);
	struct conn_val *cv = bpf_map_lookup_elem(&conns, &k);
	if (cv && cv->first_syn_ns)
		set_wait(e, cv->first_syn_ns);
	submit(e);
	return 0;
}

/* ---- the application: accept() returned a connection ---- */


static __always_inline int on_accept(long fd)
{
	if (fd < 0)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	if (fd >= fdt->max_fds)
		return 0;
	struct file *f = NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), fdt->fd + fd) || !f)
		return 0;
	f = bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file));
	struct socket *sock = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	if (!sock)
		return 0;
	struct sock *sk = sock->sk;
	if (!sk || sk->sk_protocol != IPPROTO_TCP_)
		return 0;
	__u16 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	/* a connection reset while queued is accepted in TCP_CLOSE, its inet_num already 0 */
	__u16 lport = local_port(sk);
	if (!port_traced(lport))
		return 0;

	struct conn_key k = {};
	key_from_common((const struct sock_common *)sk, lport, &k);

	/* the connection leaves the table whether or not its row fits in the ring buffer */
	__u64 now = bpf_ktime_get_ns();
	__u64 sk_key = (__u64)sk;
	struct conn_val cv = {};
	struct conn_val *found = bpf_map_lookup_elem(&queued, &sk_key);
	if (found) {
		cv = *found;
		bpf_map_delete_elem(&queued, &sk_key);
		/* a followed connection: its first read or write takes the time */
		if (app_on())
			bpf_map_update_elem(&accepts, &sk_key, &now, BPF_ANY);
	}

	struct tcpq_event ev;
	struct tcpq_event *e = new_event(&ev, TCPQ_ACCEPT, &k, now);
	if (!e)
		return 0;
	if (cv.established_ns)
		set_wait(e, cv.established_ns);
	if (cv.attempts)
		set_attempt(e, cv.attempts);
	/* the process's name, not the thread's: a runtime's worker threads have their own */
	__builtin_memcpy(e->comm, task->group_leader->comm, sizeof(e->comm));
	e->flags |= TCPQ_F_TASK;
	/* last: after a helper call the compiler reloads what it wrote to the event */
	e->pid = bpf_get_current_pid_tgid() >> 32;
	if ((cfg.mode & TCPQ_MODE_AGGREGATE) && cv.first_syn_ns)
		account_syn_to_accept(e, now - cv.first_syn_ns);
	submit(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int tcpq_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int tcpq_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

/* ---- into the application: first read, first write, close (issue #13) ---- */

#define MSG_PEEK_ 2
#define ECONNABORTED_ 103
#define ECONNRESET_ 104
#define EPIPE_ 32
#define ETIMEDOUT_ 110

/* the time of accept(), once: from `accepts`, left there by the syscall tracepoint */
static __always_inline void take_accept(struct sock *sk, struct app_conn *a)
{
	if (a->accept_ns)
		return;
	__u64 sk_key = (__u64)sk;
	__u64 *t = bpf_map_lookup_elem(&accepts, &sk_key);
	if (!t)
		return;
	if (*t >= a->established_ns)
		a->accept_ns = *t;
	bpf_map_delete_elem(&accepts, &sk_key);
}

static __always_inline struct tcpq_event *new_app_event(struct tcpq_event *stack, __u8 kind, struct sock *sk,
							struct app_conn *a, __u64 now)
{
	if (!kind_on(kind))
		return NULL;
	struct conn_key k = {};
	key_from_common((const struct sock_common *)sk, local_port(sk), &k);
	struct tcpq_event *e = new_event(stack, kind, &k, now);
	if (!e)
		return NULL;
	e->bytes_in = a->bytes_in;
	e->bytes_out = a->bytes_out;
	e->flags |= TCPQ_F_BYTES;
	return e;
}

/* the reading or writing process, as accept's rows name it */
static __always_inline void set_task(struct tcpq_event *e)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__builtin_memcpy(e->comm, task->group_leader->comm, sizeof(e->comm));
	e->flags |= TCPQ_F_TASK;
	e->pid = bpf_get_current_pid_tgid() >> 32;
}

/* The followed connection is no longer needed once both firsts are done, unless close is asked. */
static __always_inline void maybe_unfollow(struct sock *sk, __u64 flags)
{
	if ((flags & (APP_READ | APP_WROTE)) == (APP_READ | APP_WROTE) && !kind_on(TCPQ_CLOSE))
		bpf_sk_storage_delete(&app_conns, sk);
}

/* sock_recvmsg() returned: read(), recv*(), readv(), io_uring's recv and read alike. A read that
 * failed (EAGAIN on a non-blocking socket, ...), saw the end (0) or only peeked is no read. */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(tcpq_recv, struct sock *sk, int ret, int flags)
{
	if (ret <= 0 || (flags & MSG_PEEK_))
		return 0;
	struct app_conn *a = bpf_sk_storage_get(&app_conns, sk, 0, 0);
	if (!a)
		return 0;
	__sync_fetch_and_add(&a->bytes_in, ret);
	if (a->flags & APP_READ)
		return 0;
	__u64 old = __sync_fetch_and_or(&a->flags, APP_READ);
	if (old & APP_READ)
		return 0; /* another thread's read was first */
	__u64 now = bpf_ktime_get_ns();
	a->first_read_ns = now;
	take_accept(sk, a);
	struct tcpq_event ev;
	struct tcpq_event *e = new_app_event(&ev, TCPQ_FIRST_READ, sk, a, now);
	if (e) {
		e->bytes_in = ret; /* what this read returned */
		if (a->accept_ns)
			set_wait(e, a->accept_ns);
		if (a->first_data_ns && a->first_data_ns <= now) {
			e->data_age_ns = now - a->first_data_ns;
			e->flags |= TCPQ_F_DATA_AGE;
		}
		set_task(e);
		submit(e);
	}
	maybe_unfollow(sk, old | APP_READ);
	return 0;
}

/* sock_sendmsg() returned: write(), send*(), writev(), sendfile()/splice (MSG_SPLICE_PAGES),
 * io_uring's send. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(tcpq_send, struct sock *sk, int ret, int flags)
{
	if (ret <= 0)
		return 0;
	struct app_conn *a = bpf_sk_storage_get(&app_conns, sk, 0, 0);
	if (!a)
		return 0;
	__sync_fetch_and_add(&a->bytes_out, ret);
	if (a->flags & APP_WROTE)
		return 0;
	__u64 old = __sync_fetch_and_or(&a->flags, APP_WROTE);
	if (old & APP_WROTE)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	take_accept(sk, a);
	struct tcpq_event ev;
	struct tcpq_event *e = new_app_event(&ev, TCPQ_FIRST_WRITE, sk, a, now);
	if (e) {
		e->bytes_out = ret; /* what this write sent; bytes_in: read before it */
		/* since the first read, or since accept() when it writes first */
		if (old & APP_READ)
			set_wait(e, a->first_read_ns);
		else if (a->accept_ns)
			set_wait(e, a->accept_ns);
		set_task(e);
		submit(e);
	}
	maybe_unfollow(sk, old | APP_WROTE);
	return 0;
}

/* Data is ready to read: the first time, for a followed connection, is when its first request
 * began to wait (before accept() too: TCP_DEFER_ACCEPT, or a client that sends at once). */
SEC("tp_btf/sk_data_ready")
int BPF_PROG(tcpq_data_ready, struct sock *sk)
{
	struct app_conn *a = bpf_sk_storage_get(&app_conns, sk, 0, 0);
	if (a && !a->first_data_ns)
		a->first_data_ns = bpf_ktime_get_ns();
	return 0;
}

/* A followed connection leaves ESTABLISHED (who closed first) and, later, reaches TCP_CLOSE (the
 * `close` row). A reset is known by sk_err, which tcp_reset() sets just before tcp_done(), or by a
 * jump to TCP_CLOSE from ESTABLISHED or CLOSE_WAIT, which only an abortive close makes (unread
 * data at close(), SO_LINGER 0: the RST is sent right after the state changes). */
static __noinline void on_app_state(struct sock *sk, int oldstate, int newstate)
{
	struct app_conn *a = bpf_sk_storage_get(&app_conns, sk, 0, 0);
	if (!a)
		return;
	if (oldstate == TCP_ESTABLISHED && sk->sk_socket)
		a->flags |= APP_OWNED;
	int err = sk->sk_err;
	bool reset_rcvd = err == ECONNRESET_ || err == EPIPE_;
	if (!a->closer) {
		if (newstate == TCP_FIN_WAIT1)
			a->closer = TCPQ_CLOSER_APP;
		else if (newstate == TCP_CLOSE_WAIT)
			a->closer = TCPQ_CLOSER_PEER;
		else if (newstate == TCP_CLOSE)
			a->closer = reset_rcvd ? TCPQ_CLOSER_PEER
				    : err == ETIMEDOUT_ ? TCPQ_CLOSER_TIMEOUT : TCPQ_CLOSER_APP;
	}
	if (newstate != TCP_CLOSE)
		return;
	take_accept(sk, a);
	/* reset in the accept queue and never accepted: its `abort` row says so */
	if (!a->accept_ns && !(a->flags & (APP_OWNED | APP_READ | APP_WROTE))) {
		bpf_sk_storage_delete(&app_conns, sk);
		return;
	}
	struct tcpq_event ev;
	struct tcpq_event *e = new_app_event(&ev, TCPQ_CLOSE, sk, a, bpf_ktime_get_ns());
	if (e) {
		if (a->accept_ns)
			set_wait(e, a->accept_ns);
		e->closer = a->closer;
		e->reset = reset_rcvd || err == ECONNABORTED_ ||
			   ((oldstate == TCP_ESTABLISHED || oldstate == TCP_CLOSE_WAIT) && err != ETIMEDOUT_);
		e->flags |= TCPQ_F_CLOSER;
		submit(e);
	}
	bpf_sk_storage_delete(&app_conns, sk);
}
