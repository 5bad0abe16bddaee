// SPDX-License-Identifier: GPL-2.0 OR MIT
/* tcpq's kernel side: follows each incoming TCP connection from its SYN to accept(). The entry
 * points only; each concern is a header (common.h lists them).
 *
 *   cgroup_skb/ingress      SYN / final ACK / RST arriving at a listener: queue lengths as the
 *                           packet arrives (the seed's tcp_conn_request probe), `syn`, `abort`
 *   tp_btf/consume_skb      right after the listener processed that SYN or ACK, on the same
 *   tp_btf/kfree_skb        CPU: what this CPU's TcpExt counters say the kernel did with it
 *                           (dropped, refused, cookied), or a drop reason before the listener
 *   tp_btf/inet_sock_set_state  SYN_RECV -> ESTABLISHED (`syn-aa`), reset/closed while queued,
 *                           a child socket discarded before it was established
 *   tp_btf/tcp_retransmit_synack
 *   tracepoint/syscalls/sys_exit_accept{,4}   the process that accepted it
 *   tp_btf/io_uring_complete, io_uring_cqe_overflow   the same, for accepts made by io_uring
 *                           (IORING_OP_ACCEPT): their completions
 *   tp_btf/sock_recv_length, sock_send_length, sk_data_ready   into the application: its
 *                           first read and write of a followed connection (per-socket storage)
 *
 * Every event goes through submit() (event.h): a row in the ring buffer. serve and top count in
 * an object of their own (count.bpf.c). Every packet hook returns 1: tcpq never changes traffic. */
#include "common.h"
#include "event.h"
#include "conns.h"
#include "mib.h"
#include "listener.h"
#include "verdict.h"
#include "app.h"
#include "sockstate.h"
#include "accept.h"
#include "uring.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Never read: the programs use these types only through locals and constants, which leave no
 * BTF, so these put them into the object's BTF, where tests/Tcpq.Tests/EventLayoutTests.cs
 * compares them with the C# side. */
const struct tcpq_event *tcpq_btf_event __attribute__((unused));
const enum tcpq_kind *tcpq_btf_kind __attribute__((unused));
const enum tcpq_reason *tcpq_btf_reason __attribute__((unused));
const enum tcpq_flag *tcpq_btf_flag __attribute__((unused));
const enum tcpq_closer *tcpq_btf_closer __attribute__((unused));

/* Runs for every packet that enters a socket of the machine (the cgroup v2 root): established
 * traffic leaves at its first test. */
SEC("cgroup_skb/ingress")
int tcpq_ingress(struct __sk_buff *skb)
{
	listener_ingress(skb);
	return 1;
}

SEC("tp_btf/consume_skb")
int BPF_PROG(tcpq_consume_skb, struct sk_buff *skb)
{
	__u32 gen = this_cpu_pending()->gen;
	finish_pending(skb, 0);
	settle_nested_syn(gen);
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(tcpq_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	__u32 gen = this_cpu_pending()->gen;
	finish_pending(skb, reason);
	settle_nested_syn(gen);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcpq_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	app_state_changed(sk, oldstate, newstate);
	sockstate_changed(sk, oldstate, newstate);
	return 0;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(tcpq_synack_retrans, const struct sock *sk, const struct request_sock *req)
{
	on_synack_retransmit(sk, req);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int tcpq_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	on_accept(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int tcpq_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	on_accept(ctx->ret);
	return 0;
}

/* io_uring posted a completion: with its request (io_fill_cqe_req()) or without it
 * (io_fill_cqe_aux(): a multishot request's). Every completion of the machine passes here. */
SEC("tp_btf/io_uring_complete")
int BPF_PROG(tcpq_uring_complete, struct io_ring_ctx *ring, void *req, struct io_uring_cqe *cqe)
{
	uring_completed((__u64)ring, (__u64)req, cqe);
	return 0;
}

/* A completion that did not fit in the CQ ring, kept in the overflow list (no request). */
SEC("tp_btf/io_uring_cqe_overflow")
int BPF_PROG(tcpq_uring_overflow, void *ring, __u64 user_data, __s32 res, __u32 cflags, void *ocqe)
{
	uring_maybe_accepted((__u64)ring, res);
	return 0;
}

/* sock_recvmsg() returned: read(), recv*(), readv(), io_uring's recv and read alike. A read that
 * failed (EAGAIN on a non-blocking socket, ...), saw the end (0) or only peeked is no read. */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(tcpq_recv, struct sock *sk, int ret, int flags)
{
	if (ret > 0 && !(flags & MSG_PEEK_))
		app_transfer(sk, ret, APP_READ);
	return 0;
}

/* sock_sendmsg() returned: write(), send*(), writev(), sendfile()/splice (MSG_SPLICE_PAGES),
 * io_uring's send. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(tcpq_send, struct sock *sk, int ret, int flags)
{
	if (ret > 0)
		app_transfer(sk, ret, APP_WROTE);
	return 0;
}

SEC("tp_btf/sk_data_ready")
int BPF_PROG(tcpq_data_ready, struct sock *sk)
{
	app_data_ready(sk);
	return 0;
}
