/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Smoke test of rpc.h compiled as C and linked like QEMU would link it
 * (static library + -lstdc++ -lpthread): both roles, MMIO, posted writes,
 * events, errors, poisoning, stats.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vsst/rpc.h"

static int failures;
#define CHECK(cond)                                                                                          \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);             \
			failures++;                                                                          \
		}                                                                                            \
	} while (0)

static void *device_main(void *arg)
{
	vsst_rpc *dev = arg;
	struct vsst_rpcmsg req, ev;
	for (;;) {
		int r = vsst_rpc_dev_wait_request(dev, &req, 5000);
		if (r != 1 || vsst_rpc_mr0_op(req.mr0) == VSST_RPC_OP_STOP)
			break;
		if (vsst_rpc_mr0_op(req.mr0) != VSST_RPC_OP_MMIO || vsst_rpc_mr0_posted(req.mr0)) {
			continue;
		}
		if (req.mr1 == 0xdead)
			vsst_rpc_dev_complete_error(dev, &req, 1000);
		else
			vsst_rpc_dev_complete(dev, &req, req.mr1 + 1, 1000);
	}
	ev.mr0 = vsst_rpc_mr0(VSST_RPC_OP_SET_IRQ, 0, 0, 0, 0, 0);
	ev.mr1 = 2;
	ev.mr2 = VSST_RPC_IRQ_PULSE;
	ev.mr3 = 0;
	vsst_rpc_dev_send_event(dev, &ev, 1000);
	return NULL;
}

int main(void)
{
	struct vsst_rpc_params params = {64, 10};
	struct vsst_rpc_fds fds;
	char err[128] = "";
	int r = vsst_rpc_create(&params, &fds, err, sizeof err);
	CHECK(r == 0);
	if (r != 0) {
		fprintf(stderr, "create: %s\n", err);
		return 1;
	}
	vsst_rpc *px = vsst_rpc_attach(&fds, VSST_RPC_ROLE_PROXY, err, sizeof err);
	vsst_rpc *dev = vsst_rpc_attach(&fds, VSST_RPC_ROLE_DEVICE, err, sizeof err);
	CHECK(px && dev);
	if (!px || !dev)
		return 1;
	/* The caller keeps its own fds: attach dup()ed them. */
	close(fds.region);
	close(fds.to_device);
	close(fds.to_proxy);

	/* Wrong role and bad arguments are refused. */
	uint64_t v = 0;
	CHECK(vsst_rpc_proxy_mmio(dev, VSST_RPC_AS_GLOBAL, 0, 4, 0, &v, 10) == -EINVAL);
	CHECK(vsst_rpc_dev_wait_request(px, NULL, 10) == -EINVAL);
	CHECK(vsst_rpc_proxy_mmio(px, VSST_RPC_AS_GLOBAL, 0, 3, 0, &v, 10) == -EINVAL);
	CHECK(vsst_rpc_attach(NULL, VSST_RPC_ROLE_PROXY, err, sizeof err) == NULL);

	pthread_t thr;
	pthread_create(&thr, NULL, device_main, dev);
	CHECK(vsst_rpc_proxy_mmio(px, VSST_RPC_AS_GLOBAL, 0x1000, 4, VSST_RPC_DIR_READ, &v, 2000) == 0);
	CHECK(v == 0x1001);
	v = 7;
	CHECK(vsst_rpc_proxy_mmio(px, VSST_RPC_AS_IOPORT, 0xcfc, 2, VSST_RPC_DIR_WRITE, &v, 2000) == 0);
	CHECK(vsst_rpc_proxy_mmio(px, VSST_RPC_AS_GLOBAL, 0xdead, 1, VSST_RPC_DIR_READ, &v, 2000) == -EIO);
	CHECK(v == 0xff);
	CHECK(vsst_rpc_proxy_post(px, VSST_RPC_AS_GLOBAL, 0x2000, 4, 1, 1000) == 0);

	struct vsst_rpcmsg stop = {vsst_rpc_mr0(VSST_RPC_OP_STOP, 0, 0, 0, 0, 0), 0, 0, 0};
	CHECK(vsst_rpc_proxy_send(px, &stop, 1000) == 0);
	pthread_join(thr, NULL);

	/* The SET_IRQ event reaches a poll()ing main loop. */
	struct pollfd p = {vsst_rpc_proxy_event_fd(px), POLLIN, 0};
	CHECK(poll(&p, 1, 2000) == 1);
	struct vsst_rpcmsg ev;
	CHECK(vsst_rpc_proxy_recv_event(px, &ev) == 1);
	CHECK(vsst_rpc_mr0_op(ev.mr0) == VSST_RPC_OP_SET_IRQ && ev.mr2 == VSST_RPC_IRQ_PULSE);
	CHECK(vsst_rpc_proxy_recv_event(px, &ev) == 0);
	CHECK(vsst_rpc_proxy_wait_event(px, &ev, 10) == -ETIMEDOUT);

	struct vsst_rpc_stats st;
	vsst_rpc_get_stats(px, &st);
	CHECK(st.sent == 5 && st.received == 4 && st.rejected == 0);

	CHECK(!vsst_rpc_poisoned(px));
	CHECK(strcmp(vsst_rpc_poison_reason(px), "") == 0);
	vsst_rpc_poison(dev, "test over");
	CHECK(vsst_rpc_poisoned(px));
	CHECK(strcmp(vsst_rpc_poison_reason(px), "test over") == 0);
	CHECK(vsst_rpc_proxy_mmio(px, VSST_RPC_AS_GLOBAL, 0, 4, 0, &v, 10) == -EPIPE);

	vsst_rpc_close(px);
	vsst_rpc_close(dev);
	vsst_rpc_close(NULL);
	printf("rpc.c_api: %s\n", failures ? "FAILED" : "OK");
	return failures ? 1 : 0;
}
