// SPDX-License-Identifier: GPL-2.0 OR MIT
/* tcpq's counting mode (serve, top): exact per-listener counts at the least cost per connection.
 * The entry points only; count.h says how, count_slots.h where the counts go. A second object
 * beside tcpq.bpf.o: loaded alone, it holds none of trace's per-connection tables.
 *
 *   cgroup_skb/ingress            a SYN, final ACK or RST arriving at a listener; and the
 *                                 verdict on the packet before it on this CPU (TcpExt deltas)
 *   tp_btf/kfree_skb              the verdict on a packet freed with a drop reason
 *   tp_btf/inet_sock_set_state    handshake completed; closed before accept(); listener closed
 *   tp_btf/tcp_retransmit_synack  SYN-ACK retransmitted; a client's SYN retried
 *   tracepoint/syscalls/sys_exit_accept{,4}  attached only in sampling windows: queue waits
 *   raw_tp (never attached)       the reader, run by user space as it reads: settles each
 *                                 CPU's last verdict, reads the listeners' queues
 *
 * With serve --spans-slower-than, the handshake, accept and abort above also send a record of a
 * slow, dropped or retried connection (count_spans.h); without it that code is not even loaded.
 *
 * No syscall tracepoint but in short sampling windows: one puts every syscall of the machine on
 * the slow path. Every
 * packet hook returns 1: tcpq never changes traffic. */
#include "common.h"
#include "mib.h"
#include "count_slots.h"
#include "count.h"
#include "count_accept.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Never read: puts the layouts into the object's BTF for tests/Tcpq.Tests/EventLayoutTests.cs. */
const enum tcpq_counter *tcpq_btf_counter __attribute__((unused));
const struct tcpq_slot_counts *tcpq_btf_slot_counts __attribute__((unused));
const struct tcpq_slot_info *tcpq_btf_slot_info __attribute__((unused));
const struct tcpq_slot_live *tcpq_btf_slot_live __attribute__((unused));
const struct tcpq_slot_meta *tcpq_btf_slot_meta __attribute__((unused));
const struct tcpq_kernel_drop *tcpq_btf_kernel_drop __attribute__((unused));
const struct tcpq_span_record *tcpq_btf_span_record __attribute__((unused));
const enum tcpq_span_kind *tcpq_btf_span_kind __attribute__((unused));
const struct conn4 *tcpq_btf_conn4 __attribute__((unused));
const struct dropped_syn *tcpq_btf_dropped_syn __attribute__((unused));

SEC("cgroup_skb/ingress")
int tcpq_count_ingress(struct __sk_buff *skb)
{
	count_ingress(skb);
	return 1;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(tcpq_count_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	return count_kernel_drop(skb, reason);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcpq_count_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	count_state_change(sk, oldstate, newstate);
	return 0;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(tcpq_count_synack_retrans, const struct sock *sk, const struct request_sock *req)
{
	count_synack_retransmit(sk, req);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int tcpq_count_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	count_accept(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int tcpq_count_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	count_accept(ctx->ret);
	return 0;
}

/* The reader, run by user space with BPF_PROG_TEST_RUN as it reads: first on each CPU with
 * ctx[0] = 0 (BPF_F_TEST_RUN_ON_CPU: that CPU's last verdict, count.h), then once with ctx[0] = 1:
 * each open slot's listener as it is now (count_slots.h). */
SEC("raw_tp")
int tcpq_count_read_live(__u64 *ctx)
{
	if (!ctx[0]) {
		settle_for_reader();
		return 0;
	}
	__u32 zero = 0;
	struct tcpq_slot_meta *meta = bpf_map_lookup_elem(&slot_meta, &zero);
	__u32 n = meta ? meta->high + 1 : TCPQ_SLOTS;
	bpf_loop(n < TCPQ_SLOTS ? n : TCPQ_SLOTS, read_live, NULL, 0);
	return 0;
}
