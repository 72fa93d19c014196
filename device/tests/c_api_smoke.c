/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device core's C API from a C program, linked with nothing but
 * libvsst_device.a, -lstdc++ and -lpthread, as QEMU links it.
 * Exit status 0 on success; every failed check prints why.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "vsst/sst_device.h"

static int failures;

#define CHECK(cond)                                                                                          \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);             \
			failures++;                                                                          \
		}                                                                                            \
	} while (0)

struct seen {
	int done;
	uint32_t status[8];
	uint64_t request_id[8];
	uint64_t result[8];
};

static void on_done(void *opaque, uint64_t cookie, const struct SSTResponse *resp)
{
	struct seen *s = opaque;
	if (cookie < 8) {
		s->status[cookie] = resp->status;
		s->request_id[cookie] = resp->request_id;
		s->result[cookie] = resp->result;
	}
	s->done++;
}

static void on_event(void *opaque, const struct SSTEvent *ev)
{
	(void)opaque;
	(void)ev;
}

static int log_lines;
static void log_sink(void *opaque, int level, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)msg;
	log_lines++;
}

int main(void)
{
	struct vsst_dev_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.device_id = 3;
	cfg.max_inflight = 8;
	cfg.log = log_sink;

	char err[128] = "";
	vsst_dev *dev = vsst_dev_new(&cfg, err, sizeof(err));
	if (!dev) {
		fprintf(stderr, "vsst_dev_new: %s\n", err);
		return 1;
	}
	CHECK(vsst_dev_notify_fd(dev) >= 0);

	struct SSTConfig sc;
	vsst_dev_get_config(dev, &sc);
	CHECK(sc.version == SST_PROTOCOL_VERSION);
	CHECK(sc.device_id == 3);
	CHECK(sc.features == vsst_dev_features(dev));

	struct SSTRequest req;
	memset(&req, 0, sizeof(req));
	req.type = SST_REQ_NOOP;
	req.request_id = 10;
	CHECK(vsst_dev_submit(dev, &req, sizeof(req), 0) == 0);
	req.type = SST_REQ_ECHO;
	req.request_id = 11;
	memcpy(req.payload.data, "abc", 3);
	CHECK(vsst_dev_submit(dev, &req, SST_REQUEST_HEADER_SIZE + 3, 1) == 0);
	req.type = SST_REQ_COMPUTE; /* no simulator configured */
	req.request_id = 12;
	CHECK(vsst_dev_submit(dev, &req, sizeof(req), 2) == 0);
	req.type = 1000;
	req.request_id = 13;
	CHECK(vsst_dev_submit(dev, &req, sizeof(req), 3) == 0);

	struct seen s;
	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 100 && s.done < 4; i++) {
		struct pollfd p = {vsst_dev_notify_fd(dev), POLLIN, 0};
		if (poll(&p, 1, 50) > 0)
			vsst_dev_reap(dev, on_done, on_event, &s);
	}
	CHECK(s.done == 4);
	CHECK(s.status[0] == SST_STATUS_OK && s.request_id[0] == 10);
	CHECK(s.status[1] == SST_STATUS_OK && s.result[1] == 3);
	CHECK(s.status[2] == SST_STATUS_NO_DEVICE && s.request_id[2] == 12);
	CHECK(s.status[3] == SST_STATUS_INVALID && s.request_id[3] == 13);

	struct vsst_dev_stats st;
	vsst_dev_get_stats(dev, &st);
	CHECK(st.requests == 4 && st.responses == 4 && st.inflight == 0);

	for (uint64_t c = 0; c < 8; c++)
		CHECK(vsst_dev_submit(dev, &req, sizeof(req), c) == 0);
	CHECK(vsst_dev_submit(dev, &req, sizeof(req), 8) == -EBUSY);
	vsst_dev_cancel_all(dev);
	CHECK(vsst_dev_reap(dev, on_done, on_event, &s) == 0);
	CHECK(vsst_dev_submit(dev, &req, sizeof(req), 8) == 0);

	vsst_dev_free(dev);
	vsst_dev_free(NULL);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	else
		printf("C API smoke test passed\n");
	return failures ? 1 : 0;
}
