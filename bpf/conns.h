/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* A connection's state between hooks, until accept(): what its first SYN, its retries and its
 * establishment leave for the rows that come later. One entry per connection, by 4-tuple, from
 * its first SYN to accept(): the listener path writes it, the socket's establishment completes it
 * in place (with the socket it now has), accept() deletes it.
 *
 * Why a table, and why one: before the child socket exists there is nothing else to hold the
 * state (a SYN the listener dropped leaves no request socket, and its retry must find the first
 * attempt). After, the child's own storage (BPF_MAP_TYPE_SK_STORAGE) was measured: creating it per
 * connection (two allocations charged to a memory cgroup, a lock of the map shared by every CPU)
 * and freeing it with the socket (two RCU frees) cost about 0.8 us a connection more than a second
 * LRU table keyed by socket (perf, 55k connections/s), and accept(), a syscall tracepoint, holds no
 * trusted socket to look it up with anyway. That second table, in turn, cost an insert and a
 * delete per connection more than completing the entry in place: about 0.6 us.
 *
 * Why accept() deletes the entry: an LRU table kept full (entries of accepted connections left to
 * age out) makes every SYN's insert evict: its CPU's free list is empty, so the insert shrinks the
 * LRU lists, deleting victims from their buckets, every node a cold cache line in a table of
 * megabytes. perf put that insert at more than half of tcpq_ingress on connload
 * (bpf_lru_pop_free), and bpf_stats tcpq_ingress at 436 ns a run, 243 ns with the delete. Deleted
 * at accept(), the table holds only the connections between their first SYN and accept(), and its
 * free nodes are reused warm. LRU still bounds it under a SYN flood. */
#ifndef TCPQ_CONNS_H
#define TCPQ_CONNS_H

#include "event.h"

/* A client retries a SYN for at most ~127 s by default; an older entry is a new connection. */
#define CONN_STALE_NS (180ULL * 1000000000ULL)

/* conn_val.state: the client reset the half-open connection */
#define CONN_ABORTED 0x2
/* the entry is a connection that ended for tcpq: a new SYN of its 4-tuple is a new connection */
#define CONN_DONE CONN_ABORTED

struct conn_val {
	__u64 first_syn_ns;
	__u64 established_ns;
	__u64 sk;         /* the child socket, from its establishment on; 0 while half-open */
	__u32 attempts;
	__u32 state;
	__u32 ack_drops;  /* segments of this handshake the listener refused (ack-drop's Attempt) */
	__u32 pad;
	__u64 successor_ns; /* displaced: the first SYN of the connection that took its 4-tuple */
};

/* One entry per connection, by 4-tuple, from its first SYN until accept(); LRU keeps it bounded
 * under a SYN flood: a flood's entries are never looked up again, so they go before those of
 * connections that got as far as their establishment. Per-CPU LRU lists: no shared lock on the
 * SYN path. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, struct conn_val);
} conns SEC(".maps");

/* An established connection's entry that a new connection of the same 4-tuple displaced while it
 * still waited for accept(), by its socket: a client that reset a queued connection can reuse its
 * port at once, and the new SYN comes with the same 4-tuple while the old connection is still in
 * the accept queue (a burst test found 29 in 16,000 such accepts). Written only then. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct conn_val);
} displaced SEC(".maps");

/* Displacements since load (any CPU): accept() tells by it whether a new connection may have
 * taken its 4-tuple while it deleted the entry. In a section of its own: not on a cache line that
 * every CPU writes per packet (.bss holds listener.h's pendings). */
__u64 displacements SEC(".data.displacements") = 0;

/* A new connection takes the 4-tuple of one established and not yet accepted: that one's state
 * moves aside, by its socket. `successor_ns`: the new connection's first SYN, 0 if unknown. */
static __always_inline void displace(struct conn_val *cv, __u64 successor_ns)
{
	__sync_fetch_and_add(&displacements, 1); /* before the tables change: accept() reads it after */
	cv->successor_ns = successor_ns;
	bpf_map_update_elem(&displaced, &cv->sk, cv, BPF_ANY);
}

/* The state of the established connection `sk` (key `k`) into *out; with `take`, it leaves the
 * tables (accept()). False when tcpq did not see it established. */
static __always_inline bool established_state(const struct sock *sk, const struct conn_key *k,
					      struct conn_val *out, bool take)
{
	__u64 sk_key = (__u64)sk;
	__u64 seen = displacements;
	struct conn_val *cv = bpf_map_lookup_elem(&conns, k);
	if (cv && cv->sk == sk_key) {
		*out = *cv;
		if (!take)
			return true;
		bpf_map_delete_elem(&conns, k);
		/* A new SYN of this 4-tuple (a client that reset its queued connection and reused the
		 * port at once) may have displaced this entry between the lookup and the delete, which
		 * then took the NEW connection's entry (a burst test saw one accept row in 16,000
		 * without its Attempt so): its first SYN is put back from the displaced copy. */
		if (displacements == seen)
			return true;
		cv = bpf_map_lookup_elem(&displaced, &sk_key);
		if (cv) {
			struct conn_val nv = { .first_syn_ns = cv->successor_ns, .attempts = 1 };
			if (nv.first_syn_ns)
				bpf_map_update_elem(&conns, k, &nv, BPF_NOEXIST);
			bpf_map_delete_elem(&displaced, &sk_key);
		}
		return true;
	}
	cv = bpf_map_lookup_elem(&displaced, &sk_key);
	if (!cv)
		return false;
	*out = *cv;
	if (take)
		bpf_map_delete_elem(&displaced, &sk_key);
	return true;
}

#endif
