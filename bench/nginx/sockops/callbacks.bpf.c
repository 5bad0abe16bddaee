#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
char LICENSE[] SEC("license") = "GPL";
#define PORT 9555 /* server.py and client.py */
__u64 ops[4][32];
__u64 states[16][16];
__u64 child_states[16][16];
SEC("sockops")
int exp_sockops(struct bpf_sock_ops *skops)
{
	__u32 op = skops->op;
	__u32 role = 0;
	if (skops->local_port == PORT) {
		role = skops->is_fullsock ? (skops->state == 10 ? 1 : 2) : 3;
	}
	if (op < 32)
		__sync_fetch_and_add(&ops[role][op], 1);
#ifdef FLAG_LISTENER
	if (op == BPF_SOCK_OPS_TCP_LISTEN_CB && skops->local_port == PORT)
		bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
#endif
#ifdef FLAG_CHILD
	if (op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB && skops->local_port == PORT)
		bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
#endif
	if (op == BPF_SOCK_OPS_STATE_CB) {
		__u32 o = skops->args[0] & 15, n = skops->args[1] & 15;
		if (role == 1 || skops->state == 10)
			__sync_fetch_and_add(&states[o][n], 1);
		else
			__sync_fetch_and_add(&child_states[o][n], 1);
	}
	return 1;
}
