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
	/* user space only: app rows (src/Tcpq/Dotnet) */
	TCPQ_REASON_CONNECTION_LIMIT = TCPQ_REASON_BASE + 5,
	TCPQ_REASON_STARVATION = TCPQ_REASON_BASE + 6,
	TCPQ_REASON_COOPERATIVE_BLOCKING = TCPQ_REASON_BASE + 7,
};

/* The flags byte: which fields of an event hold a value. An enum, not #defines, so that the
 * values are in the object's BTF for the layout test. Numbers are part of the ABI. */
enum tcpq_flag {
	TCPQ_F_QUEUES = 0x1,  /* q0/q/qmax are valid */
	TCPQ_F_WAIT = 0x2,    /* wait_ns is valid */
	TCPQ_F_ATTEMPT = 0x4, /* attempt is valid */
	TCPQ_F_TASK = 0x8,    /* pid/comm are valid */
	TCPQ_F_DROPS = 0x10,  /* drops (listener's sk_drops) is valid */
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
};

#define TCPQ_MAX_PORTS 64

/* What the programs filter on: the read-only global `cfg`, written into .rodata by user space
 * (src/Tcpq/Bpf/TraceConfig.cs) before load, so the verifier prunes what it turns off. */
struct tcpq_config {
	__u32 nports;           /* 0: every port */
	__u32 kinds;            /* bit (1 << kind) set: emit that kind */
	__u16 ports[TCPQ_MAX_PORTS];
};

#endif
