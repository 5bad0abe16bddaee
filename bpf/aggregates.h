/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* Per-listener aggregates kept in the kernel (issue #12): `tcpq serve` and `tcpq top` read these
 * per-CPU maps on an interval instead of a ring-buffer record per event. Every event the programs
 * make goes through account() (see submit() in event.h), so each counter is exactly the number
 * of rows of its kind and reason that `tcpq trace` would have written: the same exactness, with
 * nothing to read per connection.
 *
 * account() keys an event by (listener, kind, slot) and leaves it to user space to say which
 * figure that moves: src/Tcpq/Aggregates/CountingRule.cs is that rule, for the kernel's counters
 * and for an event stream alike. tests/Tcpq.KernelTests/CountingRuleTests.cs runs account() in
 * the compiled object (tcpq_account_probe in tcpq.bpf.c) on an event of each case and checks what
 * it counted against that rule: change one side only, and the test fails. */
#ifndef TCPQ_AGGREGATES_H
#define TCPQ_AGGREGATES_H

#include "common.h"

/* Listeners counted apart; past it an event's count goes to agg_missed (user space reports
 * "listeners overflowed"), never unbounded growth. */
#define TCPQ_AGG_LISTENERS 1024
/* (listener, kind, reason) counters: a few kinds and reasons per listener. */
#define TCPQ_AGG_COUNTERS (TCPQ_AGG_LISTENERS * 16)

static __always_inline void listener_of(const struct tcpq_event *e, struct tcpq_agg_listener *l)
{
	__builtin_memcpy(l->addr, e->daddr, 16);
	l->netns = e->netns;
	l->port = e->dport;
	l->pad = 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, TCPQ_AGG_COUNTERS);
	__type(key, struct tcpq_agg_counter_key);
	__type(value, __u64);
} agg_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, TCPQ_AGG_LISTENERS);
	__type(key, struct tcpq_agg_listener);
	__type(value, struct tcpq_agg_stats);
} agg_listeners SEC(".maps");

/* Events that found their map full: counted, never lost silently. */
PERCPU_COUNTER(agg_missed);

/* A zeroed value to insert from: too large for the BPF stack. Never written. */
struct tcpq_agg_stats agg_zero;

/* The power-of-two µs bucket of a duration: bucket k holds [2^(k-1), 2^k) µs, bucket 0 under
 * 1 µs, the last everything above (Log2Histogram.BucketOf in C# does the same arithmetic). */
static __always_inline __u32 agg_bucket(__u64 ns)
{
	__u64 us = ns / 1000;
	__u32 k = 0;
	/* unrolled binary search for the highest set bit: a handful of instructions */
	if (us >> 32) { us >>= 32; k += 32; }
	if (us >> 16) { us >>= 16; k += 16; }
	if (us >> 8) { us >>= 8; k += 8; }
	if (us >> 4) { us >>= 4; k += 4; }
	if (us >> 2) { us >>= 2; k += 2; }
	if (us >> 1) { us >>= 1; k += 1; }
	k += (__u32)us; /* k = number of bits of the µs value */
	return k < TCPQ_AGG_BUCKETS ? k : TCPQ_AGG_BUCKETS - 1;
}

static __always_inline void agg_record(struct tcpq_agg_hist *h, __u64 ns)
{
	__u32 k = agg_bucket(ns);
	/* the compiler knows k < 32 and would drop a check the verifier needs: hide k from it */
	asm volatile("" : "+r"(k));
	h->buckets[k & (TCPQ_AGG_BUCKETS - 1)] += 1;
	h->count += 1;
	h->sum_ns += ns;
}

static __always_inline struct tcpq_agg_stats *agg_stats_of(const struct tcpq_agg_listener *l)
{
	struct tcpq_agg_stats *s = bpf_map_lookup_elem(&agg_listeners, l);
	if (s)
		return s;
	bpf_map_update_elem(&agg_listeners, l, &agg_zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&agg_listeners, l);
}

/* Counts one event: its (listener, kind, reason) counter; its queues, handshake or queue wait. A
 * `syn`'s reason slot says whether it was a client retry (1) or a first SYN (0). */
static __always_inline void account(const struct tcpq_event *e)
{
	struct tcpq_agg_counter_key ck = {};
	listener_of(e, &ck.listener);
	ck.kind = e->kind;
	ck.reason = e->kind == TCPQ_SYN ? ((e->flags & TCPQ_F_ATTEMPT) && e->attempt > 1) : e->reason;
	__u64 *n = bpf_map_lookup_elem(&agg_counts, &ck);
	if (!n) {
		__u64 zero = 0;
		/* another CPU may insert the same key first: then its entry is looked up below */
		bpf_map_update_elem(&agg_counts, &ck, &zero, BPF_NOEXIST);
		n = bpf_map_lookup_elem(&agg_counts, &ck);
	}
	if (n)
		*n += 1;
	else
		bump(&agg_missed); /* the map is full: counted, reported as listeners overflowed */

	bool queues = e->flags & TCPQ_F_QUEUES;
	bool wait = e->flags & TCPQ_F_WAIT;
	if (!queues && !(wait && (e->kind == TCPQ_SYN_AA || e->kind == TCPQ_ACCEPT)))
		return;
	struct tcpq_agg_stats *s = agg_stats_of(&ck.listener);
	if (!s) {
		bump(&agg_missed);
		return;
	}
	if (queues) {
		s->last_ns = e->ts_ns;
		s->q0 = e->q0;
		s->q = e->q;
		s->qmax = e->qmax;
		if (e->q > s->peak_q)
			s->peak_q = e->q;
		if (e->q0 > s->peak_q0)
			s->peak_q0 = e->q0;
	}
	if (wait && e->kind == TCPQ_SYN_AA)
		agg_record(&s->handshake, e->wait_ns);
	else if (wait && e->kind == TCPQ_ACCEPT)
		agg_record(&s->queue_wait, e->wait_ns);
}

/* First SYN -> accept(), known only where the accept joins its connection's first SYN. */
static __always_inline void account_syn_to_accept(const struct tcpq_event *e, __u64 ns)
{
	struct tcpq_agg_listener l;
	listener_of(e, &l);
	struct tcpq_agg_stats *s = agg_stats_of(&l);
	if (s)
		agg_record(&s->syn_to_accept, ns);
}

#endif
