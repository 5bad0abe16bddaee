/* SPDX-License-Identifier: GPL-2.0 OR MIT */
#ifndef TCPQ_MIB_H
#define TCPQ_MIB_H

#include "common.h"

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

#endif
