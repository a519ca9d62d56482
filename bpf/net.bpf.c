/*
 * TCP connect / accept / listen from sock:inet_sock_set_state (not a
 * syscall tracepoint, so no tax on unrelated syscalls).
 *
 *  CLOSE -> SYN_SENT      connect(), process context: remember who, by sk
 *                         (the source port is not assigned yet here)
 *  SYN_SENT -> ESTABLISHED / CLOSE
 *                         emit CONNECT with the full 4-tuple and outcome,
 *                         attributed to the remembered process
 *  * -> LISTEN            listen(), process context: emit LISTEN (port)
 *  LISTEN -> CLOSE        the listener went away: emit LISTEN, newstate CLOSE
 *  SYN_RECV -> ESTABLISHED
 *                         passive open done, softirq: emit ACCEPT without a
 *                         process; user space attributes it to the listener
 */
#include "common.bpf.h"

#define AF_INET		2
#define AF_INET6	10

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);			/* struct sock * */
	__type(value, struct rw_rec_hdr);	/* who called connect() */
} connecting SEC(".maps");

static __always_inline void rw_sock_addrs(struct rw_rec_sock *r,
					  struct trace_event_raw_inet_sock_set_state *ctx)
{
	r->family = ctx->family;
	r->sport = ctx->sport;
	r->dport = ctx->dport;
	r->_pad = 0;
	r->newstate = ctx->newstate;
	r->_pad2 = 0;
	__builtin_memset(r->saddr, 0, sizeof(r->saddr));
	__builtin_memset(r->daddr, 0, sizeof(r->daddr));
	/* helper copies: clang turns direct array copies out of ctx into
	 * loads through a moved ctx pointer, which the verifier refuses */
	if (ctx->family == AF_INET6) {
		if (bpf_probe_read_kernel(r->saddr, 16, ctx->saddr_v6) ||
		    bpf_probe_read_kernel(r->daddr, 16, ctx->daddr_v6))
			rw_drop(RW_DROP_READ_FAIL);
	} else {
		if (bpf_probe_read_kernel(r->saddr, 4, ctx->saddr) ||
		    bpf_probe_read_kernel(r->daddr, 4, ctx->daddr))
			rw_drop(RW_DROP_READ_FAIL);
	}
}

static __always_inline int rw_emit_sock(struct trace_event_raw_inet_sock_set_state *ctx,
					 __u32 type, const struct rw_rec_hdr *who)
{
	struct rw_rec_sock *r = rw_reserve(sizeof(*r));

	if (!r)
		return 0;
	if (who) {
		r->h = *who;
		r->h.type = type;
		r->h.size = sizeof(*r);
		r->h.ts_ns = bpf_ktime_get_boot_ns();
	} else if (type == RW_REC_ACCEPT) {
		rw_fill_hdr_noproc(&r->h, type, sizeof(*r));
	} else {
		rw_fill_hdr(&r->h, type, sizeof(*r));
	}
	rw_sock_addrs(r, ctx);
	rw_submit(r);
	return 0;
}

SEC("tp/sock/inet_sock_set_state")
int inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)ctx->skaddr;
	int os = ctx->oldstate, ns = ctx->newstate;
	struct rw_rec_hdr *who, h;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (ctx->family != AF_INET && ctx->family != AF_INET6)
		return 0;

	if (os == TCP_CLOSE && ns == TCP_SYN_SENT) {
		if (rw_is_self(bpf_get_current_pid_tgid() >> 32))
			return 0;
		rw_fill_hdr(&h, RW_REC_CONNECT, sizeof(struct rw_rec_sock));
		if (bpf_map_update_elem(&connecting, &sk, &h, BPF_ANY))
			rw_drop(RW_DROP_MAP_FULL);
		return 0;
	}
	if (os == TCP_SYN_SENT && (ns == TCP_ESTABLISHED || ns == TCP_CLOSE)) {
		who = bpf_map_lookup_elem(&connecting, &sk);
		if (!who)
			return 0;	/* the sensor's own, or begun before we attached */
		h = *who;
		bpf_map_delete_elem(&connecting, &sk);
		return rw_emit_sock(ctx, RW_REC_CONNECT, &h);
	}
	if (ns == TCP_LISTEN || (os == TCP_LISTEN && ns == TCP_CLOSE)) {
		if (rw_is_self(bpf_get_current_pid_tgid() >> 32))
			return 0;
		return rw_emit_sock(ctx, RW_REC_LISTEN, NULL);
	}
	if (os == TCP_SYN_RECV && ns == TCP_ESTABLISHED)
		return rw_emit_sock(ctx, RW_REC_ACCEPT, NULL);
	return 0;
}
