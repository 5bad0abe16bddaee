/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* ---- into the application (issue #13): what a followed connection's socket holds ----
 *
 * A connection is followed from SYN_RECV -> ESTABLISHED (a port tcpq traces, and first-read,
 * first-write or close asked for) in socket-local storage: the per-operation hooks
 * (sock_recv_length / sock_send_length, fired for every socket on the machine, io_uring's too)
 * find nothing on any other socket and return after one helper call, with no shared hash. The
 * storage dies with its socket, so a later connection on the same fd (or at the same address)
 * starts empty. A connection stops being followed (its storage deleted) after its first read and
 * first write, unless close is asked for: then every read and write adds up its bytes.
 *
 * sockstate.h starts following a connection (app_follow()), accept.h leaves the time of accept()
 * (app_accepted()); the rest is here. */
#ifndef TCPQ_APP_H
#define TCPQ_APP_H

#include "event.h"

#define APP_READ 0x1     /* its first read is done */
#define APP_WROTE 0x2    /* its first write is done */
#define APP_OWNED 0x4    /* an application held it (left ESTABLISHED with a struct socket) */

#define MSG_PEEK_ 2
#define ECONNABORTED_ 103
#define ECONNRESET_ 104
#define EPIPE_ 32
#define ETIMEDOUT_ 110

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

/* SYN_RECV -> ESTABLISHED on a traced port: follow the connection, when its rows are asked for. */
static __always_inline void app_follow(const struct sock *sk, __u64 now)
{
	if (!app_on())
		return;
	struct app_conn *a = bpf_sk_storage_get(&app_conns, (struct sock *)sk, 0,
						BPF_SK_STORAGE_GET_F_CREATE);
	if (a)
		a->established_ns = now;
}

/* accept() returned a followed connection: its first read or write takes the time. Pointers to
 * the caller's copies: no second copy on the stack for the helper. */
static __always_inline void app_accepted(const __u64 *sk_key, const __u64 *now)
{
	if (app_on())
		bpf_map_update_elem(&accepts, sk_key, now, BPF_ANY);
}

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

static __always_inline struct tcpq_event *new_app_event(__u8 kind, struct sock *sk,
							struct app_conn *a, __u64 now)
{
	if (!kind_on(kind))
		return NULL;
	struct conn_key k = {};
	key_from_common((const struct sock_common *)sk, local_port(sk), &k);
	struct tcpq_event *e = new_event(kind, &k, now);
	if (!e)
		return NULL;
	e->bytes_in = a->bytes_in;
	e->bytes_out = a->bytes_out;
	e->flags |= TCPQ_F_BYTES;
	return e;
}

/* The followed connection is no longer needed once both firsts are done, unless close is asked. */
static __always_inline void maybe_unfollow(struct sock *sk, __u64 flags)
{
	if ((flags & (APP_READ | APP_WROTE)) == (APP_READ | APP_WROTE) && !kind_on(TCPQ_CLOSE))
		bpf_sk_storage_delete(&app_conns, sk);
}

/* A read (op APP_READ) or a write (APP_WROTE) of `ret` bytes on a socket: a followed connection
 * adds them up, and its first read or first write is a row. Both hooks pass a constant op, so
 * each keeps only its own branches. */
static __always_inline void app_transfer(struct sock *sk, int ret, __u64 op)
{
	bool read = op == APP_READ;
	struct app_conn *a = bpf_sk_storage_get(&app_conns, sk, 0, 0);
	if (!a)
		return;
	__sync_fetch_and_add(read ? &a->bytes_in : &a->bytes_out, ret);
	if (a->flags & op)
		return;
	__u64 old = __sync_fetch_and_or(&a->flags, op);
	if (old & op)
		return; /* another thread's was first */
	__u64 now = bpf_ktime_get_ns();
	if (read)
		a->first_read_ns = now;
	take_accept(sk, a);
	struct tcpq_event *e = new_app_event(read ? TCPQ_FIRST_READ : TCPQ_FIRST_WRITE, sk, a, now);
	if (e) {
		if (read) {
			e->bytes_in = ret; /* what this read returned */
			if (a->accept_ns)
				set_wait(e, a->accept_ns);
			if (a->first_data_ns && a->first_data_ns <= now) {
				e->data_age_ns = now - a->first_data_ns;
				e->flags |= TCPQ_F_DATA_AGE;
			}
		} else {
			e->bytes_out = ret; /* what this write sent; bytes_in: read before it */
			/* since the first read, or since accept() when it writes first */
			if (old & APP_READ)
				set_wait(e, a->first_read_ns);
			else if (a->accept_ns)
				set_wait(e, a->accept_ns);
		}
		set_task(e, bpf_get_current_task_btf());
		submit(e);
	}
	maybe_unfollow(sk, old | op);
}

/* Data is ready to read: the first time, for a followed connection, is when its first request
 * began to wait (before accept() too: TCP_DEFER_ACCEPT, or a client that sends at once). */
static __always_inline void app_data_ready(struct sock *sk)
{
	struct app_conn *a = bpf_sk_storage_get(&app_conns, sk, 0, 0);
	if (a && !a->first_data_ns)
		a->first_data_ns = bpf_ktime_get_ns();
}

/* A followed connection leaves ESTABLISHED (who closed first) and, later, reaches TCP_CLOSE (the
 * `close` row). A reset is known by sk_err, which tcp_reset() sets just before tcp_done(), or by a
 * jump to TCP_CLOSE from ESTABLISHED or CLOSE_WAIT, which only an abortive close makes (unread
 * data at close(), SO_LINGER 0: the RST is sent right after the state changes).
 * A subprogram, with its own stack frame: see sockstate_changed(). */
static __subprog int on_app_state(struct sock *sk, int oldstate, int newstate)
{
	struct app_conn *a = bpf_sk_storage_get(&app_conns, sk, 0, 0);
	if (!a)
		return 0;
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
		return 0;
	take_accept(sk, a);
	/* reset in the accept queue and never accepted: its `abort` row says so */
	if (!a->accept_ns && !(a->flags & (APP_OWNED | APP_READ | APP_WROTE))) {
		bpf_sk_storage_delete(&app_conns, sk);
		return 0;
	}
	struct tcpq_event *e = new_app_event(TCPQ_CLOSE, sk, a, bpf_ktime_get_ns());
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
	return 0;
}

/* A state change of any socket: only a followed connection leaving ESTABLISHED, or reaching
 * TCP_CLOSE, can matter, and only when the application's rows are asked for. */
static __always_inline void app_state_changed(const struct sock *sk, int oldstate, int newstate)
{
	if (app_on() && ((oldstate == TCP_ESTABLISHED && newstate != TCP_ESTABLISHED) ||
			 (newstate == TCP_CLOSE && oldstate != TCP_SYN_RECV)))
		on_app_state((struct sock *)sk, oldstate, newstate);
}

#endif
