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

/* ---- per-listener aggregates in the kernel (bpf/aggregates.h; src/Tcpq/Aggregates/) ---- */

#define TCPQ_AGG_BUCKETS 32

/* A listener: its network namespace, local address (16 bytes, IPv4-mapped) and port. */
struct tcpq_agg_listener {
	__u8 addr[16];
	__u32 netns;
	__u16 port;
	__u16 pad;
};

/* One exact counter: events of this kind and reason at this listener (for `syn`, reason 1 is a
 * client retry, 0 a first SYN). */
struct tcpq_agg_counter_key {
	struct tcpq_agg_listener listener;
	__u32 kind;
	__u32 reason;
};

/* Durations in power-of-two microsecond buckets (bucket k: [2^(k-1), 2^k) us). */
struct tcpq_agg_hist {
	__u64 count;
	__u64 sum_ns;
	__u64 buckets[TCPQ_AGG_BUCKETS];
};

/* Per listener, per CPU: the queues at this CPU's last event that carried them, peaks, latencies. */
struct tcpq_agg_stats {
	__u64 last_ns;
	__u32 q0, q, qmax, peak_q, peak_q0, pad;
	struct tcpq_agg_hist handshake;     /* first SYN -> syn-aa */
	struct tcpq_agg_hist queue_wait;    /* syn-aa -> accept */
	struct tcpq_agg_hist syn_to_accept; /* first SYN -> accept */
};

/* What the programs do with an event: write it to the ring buffer (trace), count it (serve, top). */
enum tcpq_mode {
	TCPQ_MODE_ROWS = 0x1,
	TCPQ_MODE_AGGREGATE = 0x2,
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

#endif
