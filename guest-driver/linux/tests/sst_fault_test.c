// SPDX-License-Identifier: Apache-2.0
/*
 * sst_fault_test - driver-level checks that need a misbehaving device
 * (tests/sst_fake.ko with its fault knobs, set by the caller). One mode per
 * run; prints "VSST-RESULT kmod.<mode> PASS|FAIL <detail>" and exits 0 on
 * PASS.
 *
 *   timeout DEV N   device holds requests: N requests time out (fd timeout
 *                   300 ms), each with its own user_data, none twice
 *   late DEV N      device answers again: a NOOP succeeds and the N held
 *                   requests are counted as late, nothing left in flight
 *   badresp DEV     device sends a bad length/id: response is ERROR, counted
 *   inflight DEV N  N requests held, then blocks in read(); the caller
 *                   removes the device: N NO_DEVICE responses, then ENODEV
 *   orphan DEV N    submits N held requests and exits without reading
 *   badevent DEV    device sends a short event: counted, not delivered
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <vsst/sst-ioctl.h>
#include <vsst/sst-protocol.h>

static const char *mode;

static int result(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int result(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("VSST-RESULT kmod.%s %s ", mode, ok ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return ok ? 0 : 1;
}

static struct SSTRequest noop(unsigned long long user_data)
{
	struct SSTRequest r;

	memset(&r, 0, sizeof(r));
	r.type = SST_REQ_NOOP;
	r.user_data = user_data;
	return r;
}

static int submit_noops(int fd, unsigned int n, unsigned long long base)
{
	for (unsigned int i = 0; i < n; i++) {
		struct SSTRequest r = noop(base + i);

		if (write(fd, &r, sizeof(r)) != sizeof(r))
			return -errno;
	}
	return 0;
}

static int get_stats(int fd, struct sst_ioc_stats *st)
{
	return ioctl(fd, SST_IOC_GET_STATS, st) ? -errno : 0;
}

/* Reads n responses; all must have status want and distinct user_data in
 * [base, base + n). */
static int read_expect(int fd, unsigned int n, unsigned long long base, unsigned int want,
		       char *why, size_t whylen)
{
	unsigned char seen[256] = {0};
	struct SSTResponse resp;

	if (n > sizeof(seen))
		return snprintf(why, whylen, "n too large"), -1;
	for (unsigned int i = 0; i < n; i++) {
		ssize_t got = read(fd, &resp, sizeof(resp));

		if (got != sizeof(resp))
			return snprintf(why, whylen, "read %u returned %zd (%s)", i, got,
					strerror(errno)), -1;
		if (resp.status != want)
			return snprintf(why, whylen, "status=%u want=%u", resp.status, want), -1;
		if (resp.user_data < base || resp.user_data >= base + n ||
		    seen[resp.user_data - base]++)
			return snprintf(why, whylen, "bad or repeated user_data=%llu",
					(unsigned long long)resp.user_data), -1;
		if (!resp.request_id)
			return snprintf(why, whylen, "request_id=0"), -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int n = argc > 3 ? (unsigned int)atoi(argv[3]) : 4;
	struct sst_ioc_stats before, after;
	char why[200] = "";
	ssize_t got;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: sst_fault_test MODE DEV [N]\n");
		return 2;
	}
	mode = argv[1];
	fd = open(argv[2], O_RDWR);
	if (fd < 0)
		return result(0, "open %s: %s", argv[2], strerror(errno));
	if (get_stats(fd, &before))
		return result(0, "GET_STATS: %s", strerror(errno));

	if (!strcmp(mode, "timeout")) {
		unsigned int ms = 300;

		if (ioctl(fd, SST_IOC_SET_TIMEOUT, &ms) || submit_noops(fd, n, 100))
			return result(0, "setup: %s", strerror(errno));
		if (read_expect(fd, n, 100, SST_STATUS_TIMEOUT, why, sizeof(why)))
			return result(0, "%s", why);
		/* Exactly n completions: nothing more arrives for this fd. */
		got = read(fd, &(struct SSTResponse){0}, sizeof(struct SSTResponse));
		if (got != -1 || errno != ENODATA)
			return result(0, "extra response after timeouts (%zd)", got);
		get_stats(fd, &after);
		if (after.timeouts - before.timeouts != n)
			return result(0, "timeouts counted %llu want %u",
				      (unsigned long long)(after.timeouts - before.timeouts), n);
		return result(1, "%u timed out, in_flight=%u (still held by device)", n,
			      after.in_flight);
	}
	if (!strcmp(mode, "late")) {
		if (submit_noops(fd, 1, 500) || read_expect(fd, 1, 500, SST_STATUS_OK, why,
							    sizeof(why)))
			return result(0, "noop after release: %s %s", why, strerror(errno));
		for (int tries = 0; tries < 100; tries++) {
			get_stats(fd, &after);
			if (after.in_flight == 0)
				break;
			usleep(20000);
		}
		if (after.in_flight != 0)
			return result(0, "in_flight=%u, want 0", after.in_flight);
		if (after.late - before.late < n)
			return result(0, "late=%llu want >= %u",
				      (unsigned long long)(after.late - before.late), n);
		return result(1, "late=%llu in_flight=0",
			      (unsigned long long)(after.late - before.late));
	}
	if (!strcmp(mode, "badresp")) {
		if (submit_noops(fd, 1, 700) ||
		    read_expect(fd, 1, 700, SST_STATUS_ERROR, why, sizeof(why)))
			return result(0, "%s", why);
		get_stats(fd, &after);
		if (after.bad_responses - before.bad_responses != 1)
			return result(0, "bad_responses +%llu want +1",
				      (unsigned long long)(after.bad_responses -
							   before.bad_responses));
		return result(1, "ERROR response, counted");
	}
	if (!strcmp(mode, "inflight")) {
		if (submit_noops(fd, n, 900))
			return result(0, "submit: %s", strerror(errno));
		printf("READY\n");
		fflush(stdout);
		/* Blocks until the device goes away. */
		if (read_expect(fd, n, 900, SST_STATUS_NO_DEVICE, why, sizeof(why)))
			return result(0, "%s", why);
		got = read(fd, &(struct SSTResponse){0}, sizeof(struct SSTResponse));
		if (got != -1 || errno != ENODEV)
			return result(0, "read after removal returned %zd (%s)", got,
				      strerror(errno));
		struct SSTRequest r = noop(1);

		if (write(fd, &r, sizeof(r)) != -1 || errno != ENODEV)
			return result(0, "write after removal: %s", strerror(errno));
		struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };

		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLHUP))
			return result(0, "poll after removal revents=%#x", p.revents);
		return result(1, "%u NO_DEVICE, then ENODEV and POLLHUP", n);
	}
	if (!strcmp(mode, "orphan")) {
		if (submit_noops(fd, n, 1100))
			return result(0, "submit: %s", strerror(errno));
		return result(1, "%u requests left in flight on close", n);
	}
	if (!strcmp(mode, "badevent")) {
		unsigned int on = 1;
		struct SSTRequest r;
		struct SSTEvent ev[4];
		struct sst_ioc_events a = { .events = (unsigned long)ev, .count = 4,
					    .timeout_ms = 500 };

		memset(&r, 0, sizeof(r));
		r.type = SST_REQ_COMPUTE;
		r.flags = SST_REQ_FLAG_ASYNC;
		r.user_data = 1300;
		r.payload.compute.compute_units = 10;
		if (ioctl(fd, SST_IOC_EVENTS_ENABLE, &on) || write(fd, &r, sizeof(r)) != sizeof(r) ||
		    read_expect(fd, 1, 1300, SST_STATUS_OK, why, sizeof(why)))
			return result(0, "async compute: %s %s", why, strerror(errno));
		if (ioctl(fd, SST_IOC_GET_EVENTS, &a))
			return result(0, "GET_EVENTS: %s", strerror(errno));
		get_stats(fd, &after);
		if (a.got != 0 || after.bad_events - before.bad_events != 1)
			return result(0, "got %u events, bad_events +%llu", a.got,
				      (unsigned long long)(after.bad_events - before.bad_events));
		return result(1, "short event dropped and counted");
	}
	return result(0, "unknown mode");
}
