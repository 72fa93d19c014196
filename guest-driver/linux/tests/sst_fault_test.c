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
 *   stall DEV VDEV  device holds requests: one thread writes a request from
 *                   a userfaultfd page nobody resolves, another SUBMITs with
 *                   its ids there; unbinding VDEV (virtioN) from virtio_sst
 *                   must finish while both are stuck in the user copy; then
 *                   the write fails with ENODEV and the SUBMIT's request has
 *                   exactly one answer
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
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

/* The stall mode: two submitters stuck in user copies during an unbind. */
#define STALL_UNBIND "/sys/bus/virtio/drivers/virtio_sst/unbind"
/* Removal waits for nothing the user controls: generous for a TCG guest. */
#define STALL_BOUND_MS 20000

struct stall_arg {
	int fd;
	void *page;		/* userfaultfd page: the request, or the ids */
	long ret;
	int err;
	unsigned int submitted;
};

static void *stall_write(void *p)
{
	struct stall_arg *a = p;

	a->ret = write(a->fd, a->page, sizeof(struct SSTRequest));
	a->err = errno;
	return NULL;
}

static void *stall_submit(void *p)
{
	struct stall_arg *a = p;
	struct SSTRequest r = noop(1500);
	struct sst_ioc_submit s = { .reqs = (unsigned long)&r, .ids = (unsigned long)a->page,
				    .count = 1 };

	a->ret = ioctl(a->fd, SST_IOC_SUBMIT, &s);
	a->err = errno;
	a->submitted = s.submitted;
	return NULL;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to ms for child; returns 0 when it exited with status 0. */
static int wait_child(pid_t child, long ms, int *exited)
{
	long end = now_ms() + ms;
	int status = 0;

	*exited = 0;
	do {
		pid_t p = waitpid(child, &status, WNOHANG);

		if (p == child) {
			*exited = 1;
			return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
		}
		usleep(10000);
	} while (now_ms() < end);
	return -1;
}

static int stall(int fd, const char *vdev)
{
	long page = sysconf(_SC_PAGESIZE), t0, unbind_ms;
	struct uffdio_api api = { .api = UFFD_API };
	struct stall_arg w = { .fd = fd }, s = { .fd = fd };
	struct uffdio_zeropage zero;
	struct uffdio_register reg;
	struct SSTResponse resp;
	char why[200] = "";
	pthread_t tw, ts;
	int uffd, faults = 0, exited, unbind_rc;
	unsigned char *mem;
	pid_t child;
	ssize_t got;

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd < 0)
		return result(0, "userfaultfd: %s", strerror(errno));
	if (ioctl(uffd, UFFDIO_API, &api))
		return result(0, "UFFDIO_API: %s", strerror(errno));
	mem = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return result(0, "mmap: %s", strerror(errno));
	reg.range.start = (unsigned long)mem;
	reg.range.len = 2 * page;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return result(0, "UFFDIO_REGISTER: %s", strerror(errno));
	w.page = mem;
	s.page = mem + page;
	if (pthread_create(&tw, NULL, stall_write, &w) ||
	    pthread_create(&ts, NULL, stall_submit, &s))
		return result(0, "pthread_create failed");
	/* Both threads are inside the driver once their faults are reported. */
	while (faults < 2) {
		struct pollfd p = { .fd = uffd, .events = POLLIN };
		struct uffd_msg msg;

		if (poll(&p, 1, 10000) != 1 || read(uffd, &msg, sizeof(msg)) != sizeof(msg))
			return result(0, "%d of 2 user copies reached the stalled page", faults);
		if (msg.event == UFFD_EVENT_PAGEFAULT)
			faults++;
	}

	t0 = now_ms();
	child = fork();
	if (child < 0)
		return result(0, "fork: %s", strerror(errno));
	if (!child) {
		/* Its copy of the userfaultfd would keep the faults unresolved. */
		int u = close(uffd) ? -1 : open(STALL_UNBIND, O_WRONLY);

		_exit(u < 0 || write(u, vdev, strlen(vdev)) != (ssize_t)strlen(vdev));
	}
	unbind_rc = wait_child(child, STALL_BOUND_MS, &exited);
	unbind_ms = now_ms() - t0;
	/* Resolve the faults with zero pages (a NOOP request, a zero id). */
	zero.range.start = (unsigned long)mem;
	zero.range.len = 2 * page;
	zero.mode = 0;
	if (ioctl(uffd, UFFDIO_ZEROPAGE, &zero))
		printf("sst_fault_test: UFFDIO_ZEROPAGE: %s\n", strerror(errno));
	close(uffd);
	if (!exited)
		unbind_rc = wait_child(child, STALL_BOUND_MS, &exited);
	pthread_join(tw, NULL);
	pthread_join(ts, NULL);
	if (!exited || unbind_ms >= STALL_BOUND_MS)
		return result(0, "unbind of %s waited > %d ms on submitters stalled in user copies%s",
			      vdev, STALL_BOUND_MS, exited ? " (finished once they were released)" : "");
	if (unbind_rc)
		return result(0, "unbind of %s failed", vdev);
	if (w.ret != -1 || w.err != ENODEV)
		return result(0, "write after removal returned %ld (%s), want ENODEV", w.ret,
			      strerror(w.err));
	if (s.ret || s.submitted != 1)
		return result(0, "SUBMIT returned %ld (%s) submitted=%u, want 1 submitted",
			      s.ret, strerror(s.err), s.submitted);
	if (read_expect(fd, 1, 1500, SST_STATUS_NO_DEVICE, why, sizeof(why)))
		return result(0, "the SUBMIT's request: %s", why);
	got = read(fd, &resp, sizeof(resp));
	if (got != -1 || errno != ENODEV)
		return result(0, "read after the answer returned %zd (%s), want ENODEV", got,
			      strerror(errno));
	return result(1, "unbind in %ld ms with two submitters stuck in user copies; write ENODEV, "
		      "SUBMIT 1 with one NO_DEVICE answer, then ENODEV", unbind_ms);
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
	if (!strcmp(mode, "stall"))
		return argc > 3 ? stall(fd, argv[3]) : result(0, "usage: stall DEV VIRTIO_DEVICE");
	return result(0, "unknown mode");
}
