/* SPDX-License-Identifier: MIT */
/* What the kernel programs (tcpq.bpf.c) and the C# side share: the event layout and its enums
 * (src/Tcpq/Events/), and the filter configuration (src/Tcpq/Bpf/TraceConfig.cs). A unit test
 * (tests/Tcpq.Tests/EventLayoutTests.cs) compares the C# mirrors with the BTF of the compiled
 * object, so a change here that is not mirrored there fails the build's tests. */
#ifndef TCPQ_H
#define TCPQ_H

#define TCPQ_COMM_LEN 16

/* The Action column. Numbers are part of the ABI with user space. */
enum tcpq_kind {
	TCPQ_SYN = 1,            /* a SYN reached a listening socket */
	TCPQ_SYN_DROP = 2,       /* the kernel dropped that SYN */
	TCPQ_SYN_COOKIE = 3,     /* the SYN was answered with a SYN cookie */
	TCPQ_SYNACK_RETRANS = 4, /* the server retransmitted a SYN-ACK */
	TCPQ_SYN_AA = 5,         /* handshake complete: the connection waits in the accept queue */
	TCPQ_ACK_DROP = 6,       /* the final ACK was dropped (accept queue full) */
	TCPQ_ACCEPT = 7,         /* the application accepted it */
	TCPQ_ABORT = 8,          /* reset or closed by the peer before accept() */
	/* Never emitted by the kernel: rows from a .NET application's EventPipe session
	 * (src/Tcpq/Dotnet), here so that one enum numbers every Action. */
	TCPQ_APP_CONN = 9,
	TCPQ_APP_REQUEST = 10,
	TCPQ_APP_CLOSE = 11,
	TCPQ_APP_REJECT = 12,
	TCPQ_APP_POOL = 13,
	TCPQ_APP_STARVE = 14,
	TCPQ_APP_GC = 15,
	/* issue #13, into the application (9..15 are taken by the .NET EventPipe rows) */
	TCPQ_FIRST_READ = 16,    /* the application's first read that returned data */
	TCPQ_FIRST_WRITE = 17,   /* the application's first write that sent data */
	TCPQ_CLOSE = 18,         /* the accepted connection ended */
};

/* close's `closer`: who ended the connection first */
enum tcpq_closer {
	TCPQ_CLOSER_NONE = 0,
	TCPQ_CLOSER_APP = 1,     /* the application: close()/shutdown() sent a FIN, or a reset */
	TCPQ_CLOSER_PEER = 2,    /* the peer: its FIN or its reset came first */
	TCPQ_CLOSER_TIMEOUT = 3, /* the kernel: retransmission or keepalive timeout */
};

/* Reason column. Values below TCPQ_REASON_BASE are the running kernel's enum skb_drop_reason
 * (named from its BTF in user space); values from it are tcpq's own findings. */
#define TCPQ_REASON_BASE 0x10000
enum tcpq_reason {
	TCPQ_REASON_NONE = 0,
	TCPQ_REASON_ACCEPT_QUEUE_FULL = TCPQ_REASON_BASE + 1,
	TCPQ_REASON_SYN_QUEUE_FULL = TCPQ_REASON_BASE + 2,
	TCPQ_REASON_PEER_RESET = TCPQ_REASON_BASE + 3,
	TCPQ_REASON_PEER_CLOSED = TCPQ_REASON_BASE + 4,
	/* issue #10: a row for every segment the kernel counts in TcpExtListenDrops */
	TCPQ_REASON_COOKIE_ACK_OVERFLOW = TCPQ_REASON_BASE + 5, /* a SYN-cookie ACK: accept queue full,
								 * no connection made */
	TCPQ_REASON_LISTEN_DROP = TCPQ_REASON_BASE + 6, /* ListenDrops with neither queue full: no
							 * memory, no route, the SYN backlog's last
							 * quarter kept for proven peers... */
	/* an `abort`: the kernel made a child socket (TcpPassiveOpens) and closed it before it was
	 * established: another CPU made this connection's socket first, or it could not be set up */
	TCPQ_REASON_CHILD_DISCARDED = TCPQ_REASON_BASE + 7,
	/* user space only: app rows (src/Tcpq/Dotnet) */
	TCPQ_REASON_CONNECTION_LIMIT = TCPQ_REASON_BASE + 8,
	TCPQ_REASON_STARVATION = TCPQ_REASON_BASE + 9,
	TCPQ_REASON_COOPERATIVE_BLOCKING = TCPQ_REASON_BASE + 10,
	/* still in the accept queue when its listener closed: the server's own kernel reset it */
	TCPQ_REASON_LISTENER_CLOSED = TCPQ_REASON_BASE + 11,
};

/* The flags byte: which fields of an event hold a value. An enum, not #defines, so that the
 * values are in the object's BTF for the layout test. Numbers are part of the ABI. */
enum tcpq_flag {
	TCPQ_F_QUEUES = 0x1,  /* q0/q/qmax are valid */
	TCPQ_F_WAIT = 0x2,    /* wait_ns is valid */
	TCPQ_F_ATTEMPT = 0x4, /* attempt is valid */
	TCPQ_F_TASK = 0x8,    /* pid/comm are valid */
	TCPQ_F_DROPS = 0x10,  /* drops (listener's sk_drops) is valid */
	TCPQ_F_BYTES = 0x20,  /* bytes_in/bytes_out are valid */
	TCPQ_F_DATA_AGE = 0x40, /* data_age_ns is valid */
	TCPQ_F_CLOSER = 0x80, /* closer and reset are valid */
};

/* Addresses are always 16 bytes, network order; an IPv4 address is stored IPv4-mapped
 * (::ffff:a.b.c.d), whatever the socket's family, so that an IPv4 client of a dual-stack
 * listener has one key and prints as IPv4. */
struct tcpq_event {
	__u64 ts_ns;       /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 wait_ns;     /* see the Action table in README */
	__u8 saddr[16];    /* client (remote) address */
	__u8 daddr[16];    /* listener (local) address */
	__u32 netns;       /* network namespace inode number */
	__u32 pid;         /* tgid of the accepting process */
	__u32 q0;          /* SYN queue length (request sockets) */
	__u32 q;           /* accept queue length */
	__u32 qmax;        /* listen() backlog (sk_max_ack_backlog) */
	__u32 attempt;     /* 1 for the first SYN of a 4-tuple, n for the n-th */
	__u32 reason;      /* enum tcpq_reason or a kernel skb_drop_reason */
	__u32 drops;       /* listener's sk_drops after the event */
	__u16 sport;       /* client port, host order */
	__u16 dport;       /* listener port, host order */
	__u8 kind;         /* enum tcpq_kind */
	__u8 flags;        /* TCPQ_F_* */
	__u8 pad[2];
	char comm[TCPQ_COMM_LEN];
	/* issue #13: first-read, first-write, close */
	__u64 bytes_in;    /* bytes the application had read from it by this event */
	__u64 bytes_out;   /* bytes the application had written to it by this event */
	__u64 data_age_ns; /* first-read: since the first data arrived in the socket */
	__u8 closer;       /* close: enum tcpq_closer */
	__u8 reset;        /* close: 1 when it ended with a reset (sent or received) */
	__u8 pad2[6];
};

/* ---- histograms kept in the kernel (counting mode: count.bpf.c) ---- */

#define TCPQ_AGG_BUCKETS 32

/* Durations in power-of-two microsecond buckets (bucket k: [2^(k-1), 2^k) us). */
struct tcpq_agg_hist {
	__u64 count;
	__u64 sum_ns;
	__u64 buckets[TCPQ_AGG_BUCKETS];
};

/* What the programs do with an event: write it to the ring buffer (trace). One mode left since
 * serve and top count in an object of their own (count.bpf.c); the field stays for the layout. */
enum tcpq_mode {
	TCPQ_MODE_ROWS = 0x1,
};

#define TCPQ_MAX_PORTS 64

/* What the programs filter on: the read-only global `cfg`, written into .rodata by user space
 * (src/Tcpq/Bpf/TraceConfig.cs) before load, so the verifier prunes what it turns off. */
struct tcpq_config {
	__u32 nports;           /* 0: every port */
	__u32 kinds;            /* bit (1 << kind) set: emit that kind */
	__u32 mode;             /* enum tcpq_mode bits */
	__u32 pad;
	__u16 ports[TCPQ_MAX_PORTS];
};

/* ---- counting mode (bpf/count.bpf.c; src/Tcpq/Aggregates/KernelCounters.cs) ----
 * serve and top: counters per listener socket, in a slot of its own, with nothing kept per
 * connection and no syscall hooked. */

/* Listener sockets counted apart; slot 0 holds every listener past them ("other"). */
#define TCPQ_SLOTS 1024

/* What a slot counts: an index into tcpq_slot_counts.n. KernelCounters.cs maps each to the event
 * kind and reason that `tcpq trace` would have written a row of (Aggregates/CountingRule.cs). */
enum tcpq_counter {
	TCPQ_C_SYN = 0,               /* a first SYN */
	TCPQ_C_SYN_RETRY,             /* a client's retried SYN: its earlier one was dropped, or a
				       * request socket answered it with a SYN-ACK again */
	TCPQ_C_SYN_COOKIE,            /* answered with a SYN cookie (SyncookiesSent) */
	TCPQ_C_SYNACK_RETRANS,        /* the listener retransmitted a SYN-ACK */
	TCPQ_C_ESTABLISHED,           /* SYN_RECV -> ESTABLISHED: a handshake completed (syn-aa) */
	TCPQ_C_SYN_DROP_AQF,          /* a SYN dropped: accept queue full (ListenOverflows) */
	TCPQ_C_SYN_DROP_SQF,          /* a SYN dropped: SYN queue full, no cookies (TCPReqQFullDrop) */
	TCPQ_C_SYN_DROP_LISTEN,       /* a SYN dropped, counted in ListenDrops, neither queue full */
	TCPQ_C_ACK_DROP_AQF,          /* a final ACK refused: accept queue full */
	TCPQ_C_ACK_DROP_COOKIE,       /* a SYN cookie's ACK refused: accept queue full */
	TCPQ_C_ACK_DROP_LISTEN,       /* a final ACK refused, counted in ListenDrops */
	TCPQ_C_ABORT_HALF_OPEN,       /* reset in the SYN queue (EmbryonicRsts) */
	TCPQ_C_ABORT_RESET,           /* reset while in the accept queue */
	TCPQ_C_ABORT_CLOSED,          /* closed (FIN) while in the accept queue */
	TCPQ_C_ABORT_LISTENER_CLOSED, /* still queued when the listener closed: its kernel reset it */
	TCPQ_C_ABORT_DISCARDED,       /* a child socket discarded before it was established */
	TCPQ_C_MISSED,                /* a SYN whose verdict this CPU did not see */
	TCPQ_C_UNCOUNTED,             /* a verdict without this CPU's TcpExt counters: a drop may be
				       * missing */
	TCPQ_COUNTERS,
};

/* Per slot, per CPU. */
struct tcpq_slot_counts {
	__u64 n[TCPQ_COUNTERS];
	__u32 peak_q, peak_q0;          /* the largest queues a SYN or final ACK arrived at */
	struct tcpq_agg_hist handshake; /* the handshake: the kernel's SYN-ACK RTT sample, or since
					 * the first SYN of a client whose SYN was dropped */
	struct tcpq_agg_hist queue_wait;    /* sampled (count_accept.h): established -> accept() */
	struct tcpq_agg_hist syn_to_accept; /* sampled: first SYN -> accept() */
};

/* A SYN dropped before the listener took it, with the kernel's own reason (filter, checksum...):
 * counted by (slot, reason), only when it happens. */
struct tcpq_kernel_drop {
	__u32 slot;
	__u32 reason;
};

enum tcpq_slot_state {
	TCPQ_SLOT_FREE = 0,
	TCPQ_SLOT_OPEN = 1,   /* its listener is listening */
	TCPQ_SLOT_CLOSED = 2, /* its listener closed: user space reads it a last time and frees it */
};

/* Who a slot counts for: written once when the slot is taken, and when its listener closes. */
struct tcpq_slot_info {
	__u64 sk;          /* the listener's struct sock *, for the live reader (checked by cookie) */
	__u64 cookie;      /* its socket cookie */
	__u64 opened_ns;
	__u64 closed_ns;
	__u64 cgroup_id;   /* the listener socket's cgroup v2 id (its creator's), 0 if unknown */
	__u8 addr[16];     /* IPv4-mapped for IPv4 */
	__u32 netns;
	__u32 q_base;      /* its accept queue when the slot was taken: accepts are counted from then */
	__u32 q_at_close;  /* connections still queued when it closed */
	__u16 port;
	__u8 family;
	__u8 state;        /* enum tcpq_slot_state */
};

/* A listener's queues now, as the live reader (tcpq_count_read_live) found them. */
struct tcpq_slot_live {
	__u64 cookie;
	__u32 ok;          /* 1: the socket is still this slot's listener */
	__u32 state;       /* its TCP state */
	__u32 q, q0, qmax;
	__u32 pad;
};

/* Slots in use, and listeners that found every slot taken. */
struct tcpq_slot_meta {
	__u32 high;        /* the highest slot ever taken */
	__u32 pad;
	__u64 overflowed;  /* listeners counted in slot 0 */
};

#endif
