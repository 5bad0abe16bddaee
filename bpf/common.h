/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* What every concern of the kernel side uses: the kernel's types, the filters user space sets
 * before load, a per-CPU counter. The headers here are included by tcpq.bpf.c only, into one object
 * (as libbpf-tools and cilium's bpf/lib headers do): each includes what it uses, and the order in
 * which they include each other is the order of a connection's path:
 *
 *   common.h      this file
 *   event.h       an event: the connection's key, made, filled, then a row or counted
 *   conns.h       a connection's state between hooks, by 4-tuple, from its first SYN to accept()
 *   mib.h         this CPU's TcpExt counters: what the kernel itself counted
 *   listener.h    a SYN, final ACK or RST arriving at a listener (cgroup_skb/ingress)
 *   verdict.h     what the listener did with it, as the packet is freed
 *   app.h         into the application: first read, first write, close (per-socket storage)
 *   sockstate.h   the connection's own socket: syn-aa, abort, child discarded, SYN-ACK retransmits
 *   accept.h      accept() returned the connection
 *   uring.h       io_uring accepted it (IORING_OP_ACCEPT: single-shot, multishot, direct)
 */
#ifndef TCPQ_COMMON_H
#define TCPQ_COMMON_H

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

/* A read-only typed view of a kernel pointer: plain loads (a fault reads 0) instead of a
 * bpf_probe_read_kernel() call per field, which perf showed at ~0.25 us per connection. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define KCAST(type, ptr) ((type *)bpf_rdonly_cast((void *)(ptr), bpf_core_type_id_kernel(type)))

/* A subprogram: not inlined, so its stack frame is its own (verified in its caller's context).
 * It returns int, always 0, and `used` keeps the compiler from dropping that unused return value
 * (as it does for a static function): the verifier refuses a subprogram whose r0 at exit may
 * point to its stack, and a void one leaves in r0 whatever was there. on_established's r0 was its
 * event's stack slot when syn-aa was not traced, and `trace -e syn` failed to load. */
#define __subprog __attribute__((noinline, used))

/* Set by user space before load (struct tcpq_config in tcpq.h). */
const volatile struct tcpq_config cfg = { .nports = 0, .kinds = 0xffffffff, .mode = TCPQ_MODE_ROWS };

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

/* A counter kept per CPU, of what went unseen or unsent: bump() adds one, user space sums the
 * CPUs and reports it. */
#define PERCPU_COUNTER(name)                             \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); \
		__uint(max_entries, 1);                  \
		__type(key, __u32);                      \
		__type(value, __u64);                    \
	} name SEC(".maps")

static __always_inline void bump(void *map)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(map, &zero);
	if (n)
		*n += 1;
}

#endif
