/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* A connection's state between hooks, until accept(): what its first SYN, its retries and its
 * establishment leave for the rows that come later. The listener path writes `conns`; the socket's
 * state change moves an entry to `queued`; accept() takes it from there. */
#ifndef TCPQ_CONNS_H
#define TCPQ_CONNS_H

#include "event.h"

/* A client retries a SYN for at most ~127 s by default; an older entry is a new connection. */
#define CONN_STALE_NS (180ULL * 1000000000ULL)

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

#endif
