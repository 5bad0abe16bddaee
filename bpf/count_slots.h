/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Counting mode's listener slots: each listener socket counts into a slot of its own, found from
 * the socket itself (per-socket storage), so no packet looks anything up by address. User space
 * (src/Tcpq/Aggregates/KernelCounters.cs) hands out the free slots through a queue, reads them,
 * and frees the slot of a listener that closed once it has read it a last time. Slot 0 is shared
 * by every listener past TCPQ_SLOTS - 1 ("other"): bounded, never lost. */
#ifndef TCPQ_COUNT_SLOTS_H
#define TCPQ_COUNT_SLOTS_H

#include "common.h"

struct listener_slot {
	__u32 slot;
};

/* The listener socket's slot: freed by the kernel with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct listener_slot);
} listener_slots SEC(".maps");

/* Free slots, pushed by user space (1 .. TCPQ_SLOTS - 1 at start, and each slot it frees). */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, TCPQ_SLOTS);
	__type(value, __u32);
} free_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TCPQ_SLOTS);
	__type(key, __u32);
	__type(value, struct tcpq_slot_info);
} slot_infos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCPQ_SLOTS);
	__type(key, __u32);
	__type(value, struct tcpq_slot_counts);
} slot_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpq_slot_meta);
} slot_meta SEC(".maps");

/* A listener's (netns, address, port) -> its slot: for a child socket, which knows its listener
 * only by address (a connection closed while queued, a child discarded). Written when a slot is
 * taken, deleted by user space when it frees the slot. */
struct slot_key {
	__u8 addr[16];
	__u32 netns;
	__u16 port;
	__u16 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPQ_SLOTS);
	__type(key, struct slot_key);
	__type(value, __u32);
} slot_by_key SEC(".maps");

/* SYNs dropped with the kernel's own reason, by (slot, reason): written only on such a drop. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct tcpq_kernel_drop);
	__type(value, __u64);
} kernel_drops SEC(".maps");

/* The power-of-two µs bucket of a duration: bucket k holds [2^(k-1), 2^k) µs, bucket 0 under
 * 1 µs, the last everything above (Log2Histogram.BucketOf in C# does the same arithmetic). */
static __always_inline __u32 hist_bucket(__u64 ns)
{
	__u64 us = ns / 1000;
	__u32 k = 0;
	if (us >> 32) { us >>= 32; k += 32; }
	if (us >> 16) { us >>= 16; k += 16; }
	if (us >> 8) { us >>= 8; k += 8; }
	if (us >> 4) { us >>= 4; k += 4; }
	if (us >> 2) { us >>= 2; k += 2; }
	if (us >> 1) { us >>= 1; k += 1; }
	k += (__u32)us; /* the number of bits of the µs value */
	return k < TCPQ_AGG_BUCKETS ? k : TCPQ_AGG_BUCKETS - 1;
}

static __always_inline void hist_record(struct tcpq_agg_hist *h, __u64 ns)
{
	__u32 k = hist_bucket(ns);
	/* the compiler knows k < 32 and would drop a check the verifier needs: hide k from it */
	asm volatile("" : "+r"(k));
	h->buckets[k & (TCPQ_AGG_BUCKETS - 1)] += 1;
	h->count += 1;
	h->sum_ns += ns;
}

static __always_inline struct tcpq_slot_counts *counts_of(__u32 slot)
{
	return bpf_map_lookup_elem(&slot_counts, &slot);
}

static __always_inline void count(__u32 slot, enum tcpq_counter c)
{
	struct tcpq_slot_counts *sc = counts_of(slot);
	if (sc && c < TCPQ_COUNTERS)
		sc->n[c] += 1;
}

static __always_inline void set_addr(__u8 addr[16], const struct sock_common *c, bool remote)
{
	if (c->skc_family == AF_INET) {
		__u32 a = remote ? c->skc_daddr : c->skc_rcv_saddr;
		__builtin_memset(addr, 0, 10);
		addr[10] = 0xff;
		addr[11] = 0xff;
		__builtin_memcpy(addr + 12, &a, 4);
	} else {
		__u32 *d = (__u32 *)addr;
		const struct in6_addr *a = remote ? &c->skc_v6_daddr : &c->skc_v6_rcv_saddr;
		d[0] = a->in6_u.u6_addr32[0];
		d[1] = a->in6_u.u6_addr32[1];
		d[2] = a->in6_u.u6_addr32[2];
		d[3] = a->in6_u.u6_addr32[3];
	}
}

/* The cgroup v2 id of the process that made the socket (sk_cgrp_data, set when it was created):
 * the kernfs id, which is the inode of the cgroup's directory. User space names the listener's
 * container and pod by it without entering its network namespace (CAP_SYS_ADMIN). Once per
 * listener; 0 on kernels before 5.15, whose sock_cgroup_data packs it with net_cls's id. */
static __always_inline __u64 sk_cgroup_v2_id(struct sock *sk)
{
	if (!bpf_core_field_exists(sk->sk_cgrp_data.cgroup))
		return 0;
	struct cgroup *cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	return cg ? BPF_CORE_READ(cg, kn, id) : 0;
}

/* A listener seen for the first time: a slot of its own, or "other" when none is free. */
static __subprog int take_slot(struct bpf_sock *bs, struct tcp_sock *tp, struct __sk_buff *skb)
{
	struct listener_slot *ls = bpf_sk_storage_get(&listener_slots, bs, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!ls)
		return 0;
	__u32 slot = 0, zero = 0;
	struct tcpq_slot_meta *meta = bpf_map_lookup_elem(&slot_meta, &zero);
	if (bpf_map_pop_elem(&free_slots, &slot) || slot >= TCPQ_SLOTS)
		slot = 0;
	ls->slot = slot;
	if (!slot) {
		if (meta)
			__sync_fetch_and_add(&meta->overflowed, 1);
		return 0;
	}
	struct tcpq_slot_info *si = bpf_map_lookup_elem(&slot_infos, &slot);
	if (!si)
		return 0;
	struct sock *sk = &tp->inet_conn.icsk_inet.sk;
	const struct sock_common *c = &sk->__sk_common;
	si->sk = (__u64)sk;
	si->cookie = bpf_get_socket_cookie(skb);
	si->opened_ns = bpf_ktime_get_ns();
	si->closed_ns = 0;
	si->cgroup_id = sk_cgroup_v2_id(sk);
	si->netns = c->skc_net.net->ns.inum;
	si->port = c->skc_num;
	si->family = c->skc_family;
	si->q_base = sk->sk_ack_backlog;
	si->q_at_close = 0;
	set_addr(si->addr, c, false);
	struct slot_key k = { .netns = si->netns, .port = si->port };
	__builtin_memcpy(k.addr, si->addr, 16);
	bpf_map_update_elem(&slot_by_key, &k, &slot, BPF_ANY);
	/* last: user space reads a slot only once it is complete */
	asm volatile("" ::: "memory");
	si->state = TCPQ_SLOT_OPEN;
	if (meta && slot > meta->high)
		meta->high = slot;
	return 0;
}

static __always_inline __u32 slot_of_listener(struct bpf_sock *bs, struct tcp_sock *tp, struct __sk_buff *skb)
{
	struct listener_slot *ls = bpf_sk_storage_get(&listener_slots, bs, 0, 0);
	if (ls)
		return ls->slot;
	take_slot(bs, tp, skb);
	ls = bpf_sk_storage_get(&listener_slots, bs, 0, 0);
	return ls ? ls->slot : 0;
}

/* The last listener a child was matched to, per CPU: most machines serve a few ports. */
struct slot_cache {
	struct slot_key key;
	__u32 slot;
	__u32 pad;
};
struct slot_cache slot_caches[TCPQ_MAX_CPUS];

/* A child socket's listener slot, by its local address and port: the listener bound to that
 * address, else the one bound to the wildcard of its family, else (an IPv4 child of a dual-stack
 * listener) the IPv6 wildcard. 0 when none is counted. */
static __always_inline __u32 slot_of_child(const struct sock *sk, __u16 lport)
{
	const struct sock_common *c = &sk->__sk_common;
	struct slot_key k = { .netns = c->skc_net.net->ns.inum, .port = lport };
	set_addr(k.addr, c, false);
	struct slot_cache *sc = &slot_caches[bpf_get_smp_processor_id() & (TCPQ_MAX_CPUS - 1)];
	if (sc->slot && sc->key.netns == k.netns && sc->key.port == k.port &&
	    ((__u64 *)sc->key.addr)[0] == ((__u64 *)k.addr)[0] && ((__u64 *)sc->key.addr)[1] == ((__u64 *)k.addr)[1]) {
		/* still that listener's (user space may have freed and handed it out again) */
		struct tcpq_slot_info *si = bpf_map_lookup_elem(&slot_infos, &sc->slot);
		if (si && si->state != TCPQ_SLOT_FREE && si->port == lport && si->netns == k.netns)
			return sc->slot;
	}
	__u32 *s = bpf_map_lookup_elem(&slot_by_key, &k);
	if (!s) {
		__builtin_memset(k.addr, 0, 16);
		if (c->skc_family == AF_INET) {
			k.addr[10] = 0xff;
			k.addr[11] = 0xff;
			s = bpf_map_lookup_elem(&slot_by_key, &k);
			if (!s) {
				k.addr[10] = 0;
				k.addr[11] = 0;
				s = bpf_map_lookup_elem(&slot_by_key, &k);
			}
		} else {
			s = bpf_map_lookup_elem(&slot_by_key, &k);
		}
	}
	if (!s)
		return 0;
	__u32 slot = *s;
	set_addr(sc->key.addr, c, false);
	sc->key.netns = k.netns;
	sc->key.port = lport;
	sc->slot = slot;
	return slot;
}

/* LISTEN -> CLOSE: the slot keeps its counts for user space's last read; the connections still
 * queued are about to be reset by the kernel (inet_csk_listen_stop(), right after). */
static __always_inline void listener_closed(const struct sock *sk)
{
	struct listener_slot *ls = bpf_sk_storage_get(&listener_slots, (struct sock *)sk, 0, 0);
	if (!ls || !ls->slot)
		return;
	__u32 slot = ls->slot;
	struct tcpq_slot_info *si = bpf_map_lookup_elem(&slot_infos, &slot);
	if (!si)
		return;
	si->q_at_close = sk->sk_ack_backlog;
	si->closed_ns = bpf_ktime_get_ns();
	si->state = TCPQ_SLOT_CLOSED;
	/* slot_by_key keeps it: the queued connections' resets come next, and find their slot by
	 * it. User space deletes the entry when it frees the slot (a new listener of the same
	 * address has replaced it by then, or not). */
}

/* ---- the live reader: run by user space when it reads (BPF_PROG_TEST_RUN), never attached ----
 * Each open slot's listener as it is now: its queues, and whether it still is that listener (its
 * memory may hold another socket by now: the cookie says). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TCPQ_SLOTS);
	__type(key, __u32);
	__type(value, struct tcpq_slot_live);
} slot_lives SEC(".maps");

static long read_live(__u64 i, void *ctx)
{
	__u32 slot = i;
	struct tcpq_slot_info *si = bpf_map_lookup_elem(&slot_infos, &slot);
	struct tcpq_slot_live *lv = bpf_map_lookup_elem(&slot_lives, &slot);
	if (!si || !lv)
		return 0;
	lv->ok = 0;
	if (si->state != TCPQ_SLOT_OPEN || !si->sk)
		return 0;
	struct sock *sk = (struct sock *)si->sk;
	__u64 cookie = 0;
	if (bpf_probe_read_kernel(&cookie, sizeof(cookie), &sk->__sk_common.skc_cookie))
		return 0;
	lv->cookie = cookie;
	if (cookie != si->cookie)
		return 0;
	unsigned char st = 0;
	bpf_probe_read_kernel(&st, 1, (const void *)&sk->__sk_common.skc_state);
	lv->state = st;
	bpf_probe_read_kernel(&lv->q, 4, &sk->sk_ack_backlog);
	bpf_probe_read_kernel(&lv->qmax, 4, &sk->sk_max_ack_backlog);
	bpf_probe_read_kernel(&lv->q0, 4, &((struct inet_connection_sock *)sk)->icsk_accept_queue.qlen);
	lv->ok = 1;
	return 0;
}

#endif
