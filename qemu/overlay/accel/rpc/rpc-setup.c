/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * accel rpc: obtaining the channel and the guest RAM layout, either from
 * inherited file descriptors (fds=, ram=) or over a Unix socket with
 * SCM_RIGHTS (control=PATH or setup-fd=N).
 *
 * Copyright (c) 2025 the vsst authors
 */

#include "qemu/osdep.h"
#include <sys/socket.h>
#include <sys/un.h>
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/sockets.h"
#include "qemu/timer.h"
#include "hw/vsst/rpc-backend.h"
#include "rpc-internal.h"
#include "trace.h"


static bool parse_fd(const char *str, int *fd, const char *what, Error **errp)
{
    int64_t v;

    if (qemu_strtoi64(str, NULL, 10, &v) < 0 || v < 0 || v > INT_MAX) {
        error_setg(errp, "accel rpc: %s: '%s' is not a file descriptor number",
                   what, str);
        return false;
    }
    if (fcntl((int)v, F_GETFD) < 0) {
        error_setg_errno(errp, errno, "accel rpc: %s: fd %" PRId64
                         " is not open in this process", what, v);
        return false;
    }
    *fd = (int)v;
    return true;
}

/* fds=REGION:TODEV:TOPROXY */
static bool parse_channel_fds(const char *str, struct vsst_rpc_fds *fds,
                              Error **errp)
{
    g_auto(GStrv) parts = g_strsplit(str, ":", -1);

    if (g_strv_length(parts) != 3) {
        error_setg(errp, "accel rpc: fds='%s': want REGION:TODEV:TOPROXY "
                   "(three file descriptor numbers)", str);
        return false;
    }
    return parse_fd(parts[0], &fds->region, "fds (region)", errp) &&
           parse_fd(parts[1], &fds->to_device, "fds (to-device eventfd)", errp) &&
           parse_fd(parts[2], &fds->to_proxy, "fds (to-proxy eventfd)", errp);
}

/* ram=FD@GPA+SIZE[+OFFSET][:FD@GPA+SIZE[+OFFSET]...] */
static bool parse_ram(const char *str, struct vsst_ram_layout *ram,
                      Error **errp)
{
    g_auto(GStrv) entries = g_strsplit(str, ":", -1);
    unsigned n = g_strv_length(entries);

    if (n == 0 || n > VSST_RAM_MAX_REGIONS) {
        error_setg(errp, "accel rpc: ram='%s': want 1..%d regions "
                   "FD@GPA+SIZE[+OFFSET] separated by ':'", str,
                   VSST_RAM_MAX_REGIONS);
        return false;
    }
    memset(ram, 0, sizeof(*ram));
    for (unsigned i = 0; i < n; i++) {
        struct vsst_ram_region *r = &ram->region[i];
        g_auto(GStrv) at = g_strsplit(entries[i], "@", 2);
        g_auto(GStrv) nums = NULL;
        unsigned nn;

        if (g_strv_length(at) != 2) {
            goto bad;
        }
        if (!parse_fd(at[0], &r->fd, "ram", errp)) {
            return false;
        }
        nums = g_strsplit(at[1], "+", -1);
        nn = g_strv_length(nums);
        if (nn < 2 || nn > 3 ||
            qemu_strtou64(nums[0], NULL, 0, &r->gpa) < 0 ||
            qemu_strtosz(nums[1], NULL, &r->size) < 0 ||
            (nn == 3 && qemu_strtou64(nums[2], NULL, 0, &r->fd_offset) < 0)) {
            goto bad;
        }
        continue;
bad:
        error_setg(errp, "accel rpc: ram region '%s': want FD@GPA+SIZE"
                   "[+OFFSET], e.g. 5@0+512M or 5@0x100000000+1G+0x80000000",
                   entries[i]);
        return false;
    }
    ram->count = n;
    return true;
}

/* Peer-supplied layout: check it before anything is mapped. */

/*
 * Guest RAM must not cover the machine's MSI window (interrupt writes land
 * there; rpc-backend's msi-base/msi-size, x86's window by default).
 */
static bool rpc_setup_ram_clear_of_msi(const struct vsst_ram_region *r,
                                       unsigned i, Error **errp)
{
    uint64_t base, size;

    if (!rpc_backend_msi_window(&base, &size)) {
        error_setg(errp, "accel rpc: no MSI window (machine rpc-backend "
                   "needed, msi-base + msi-size must not wrap)");
        return false;
    }
    if (ranges_overlap(r->gpa, r->size, base, size)) {
        error_setg(errp, "accel rpc: guest RAM region %u overlaps the "
                   "MSI window at 0x%" PRIx64, i, base);
        return false;
    }
    return true;
}

static bool check_ram_layout(const struct vsst_ram_layout *ram, Error **errp)
{
    uint64_t page = qemu_real_host_page_size();

    if (ram->count == 0 || ram->count > VSST_RAM_MAX_REGIONS) {
        error_setg(errp, "accel rpc: guest RAM layout has %u regions "
                   "(want 1..%d)", ram->count, VSST_RAM_MAX_REGIONS);
        return false;
    }
    for (unsigned i = 0; i < ram->count; i++) {
        const struct vsst_ram_region *r = &ram->region[i];
        struct stat st;

        if (r->size == 0 || r->gpa + r->size < r->gpa ||
            r->fd_offset + r->size < r->fd_offset ||
            (r->gpa | r->size | r->fd_offset) & (page - 1)) {
            error_setg(errp, "accel rpc: guest RAM region %u (gpa 0x%" PRIx64
                       " size 0x%" PRIx64 " offset 0x%" PRIx64 ") is empty, "
                       "wraps or is not page aligned", i, r->gpa, r->size,
                       r->fd_offset);
            return false;
        }
        if (fstat(r->fd, &st) < 0) {
            error_setg_errno(errp, errno, "accel rpc: guest RAM region %u: "
                             "fd %d", i, r->fd);
            return false;
        }
        if (S_ISREG(st.st_mode) &&
            r->fd_offset + r->size > (uint64_t)st.st_size) {
            error_setg(errp, "accel rpc: guest RAM region %u ends at offset "
                       "0x%" PRIx64 " but fd %d holds only 0x%" PRIx64
                       " bytes", i, r->fd_offset + r->size, r->fd,
                       (uint64_t)st.st_size);
            return false;
        }
        if (!rpc_setup_ram_clear_of_msi(r, i, errp)) {
            return false;
        }
        for (unsigned j = 0; j < i; j++) {
            const struct vsst_ram_region *o = &ram->region[j];
            if (ranges_overlap(r->gpa, r->size, o->gpa, o->size)) {
                error_setg(errp, "accel rpc: guest RAM regions %u and %u "
                           "overlap", j, i);
                return false;
            }
        }
    }
    return true;
}

/* Connect to the launcher's control socket, retrying until the deadline. */
static int connect_control(const char *path, uint32_t timeout_ms, Error **errp)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int64_t deadline = qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + timeout_ms;
    int fd, err;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        error_setg(errp, "accel rpc: control socket path too long: %s", path);
        return -1;
    }
    pstrcpy(sa.sun_path, sizeof(sa.sun_path), path);
    for (;;) {
        fd = qemu_socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) {
            error_setg_errno(errp, errno, "accel rpc: socket");
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            return fd;
        }
        err = errno;
        close(fd);
        if ((err != ENOENT && err != ECONNREFUSED && err != EAGAIN) ||
            qemu_clock_get_ms(QEMU_CLOCK_REALTIME) >= deadline) {
            error_setg_errno(errp, err, "accel rpc: cannot connect to control "
                             "socket %s (waited up to %u ms)", path, timeout_ms);
            return -1;
        }
        g_usleep(20 * 1000);
    }
}

static bool receive_setup(RpcAccelState *s, int sock, struct vsst_rpc_fds *fds,
                          Error **errp)
{
    char err[256] = "";
    int r = vsst_setup_recv(sock, fds, &s->ram_layout, s->timeout_ms,
                            err, sizeof(err));

    if (r < 0) {
        error_setg(errp, "accel rpc: receiving channel set-up failed: %s (%s)",
                   err[0] ? err : "no detail", strerror(-r));
        return false;
    }
    return true;
}

static void close_layout_fds(struct vsst_ram_layout *ram)
{
    for (unsigned i = 0; i < ram->count && i < VSST_RAM_MAX_REGIONS; i++) {
        int fd = ram->region[i].fd;
        bool dup_of_earlier = false;

        for (unsigned j = 0; j < i; j++) {
            dup_of_earlier |= ram->region[j].fd == fd;
        }
        if (fd >= 0 && !dup_of_earlier) {
            close(fd);
        }
        ram->region[i].fd = -1;
    }
    ram->count = 0;
}

bool rpc_setup_channel(RpcAccelState *s, Error **errp)
{
    struct vsst_rpc_fds fds = { .region = -1, .to_device = -1, .to_proxy = -1 };
    bool own_channel_fds = false;
    int ways = !!s->fds + !!s->control + (s->setup_fd >= 0);
    char err[256] = "";

    if (ways != 1) {
        error_setg(errp, "accel rpc: give exactly one of fds=R:D:P (with ram=), "
                   "control=PATH or setup-fd=N");
        return false;
    }
    if (s->fds) {
        if (!s->ram) {
            error_setg(errp, "accel rpc: fds= needs ram=FD@GPA+SIZE[+OFFSET]");
            return false;
        }
        if (!parse_channel_fds(s->fds, &fds, errp) ||
            !parse_ram(s->ram, &s->ram_layout, errp)) {
            return false;
        }
    } else {
        int sock;

        if (s->ram) {
            error_setg(errp, "accel rpc: ram= goes with fds=; with a control "
                       "socket the layout comes from the peer");
            return false;
        }
        if (s->control) {
            sock = connect_control(s->control, s->timeout_ms, errp);
            if (sock < 0) {
                return false;
            }
        } else {
            int fd;
            g_autofree char *num = g_strdup_printf("%" PRId64, s->setup_fd);
            if (!parse_fd(num, &fd, "setup-fd", errp)) {
                return false;
            }
            sock = fd;
        }
        own_channel_fds = receive_setup(s, sock, &fds, errp);
        close(sock);
        if (!own_channel_fds) {
            return false;
        }
    }

    if (!check_ram_layout(&s->ram_layout, errp)) {
        goto fail;
    }
    s->ch = vsst_rpc_attach(&fds, VSST_RPC_ROLE_DEVICE, err, sizeof(err));
    if (!s->ch) {
        error_setg(errp, "accel rpc: attaching to the channel failed: %s",
                   err[0] ? err : "no detail");
        goto fail;
    }
    /* attach() dup()s the channel fds; ours are no longer needed. */
    close(fds.region);
    close(fds.to_device);
    close(fds.to_proxy);
    trace_rpc_accel_setup(s->ram_layout.count);
    for (unsigned i = 0; i < s->ram_layout.count; i++) {
        trace_rpc_accel_ram(i, s->ram_layout.region[i].gpa,
                            s->ram_layout.region[i].size,
                            s->ram_layout.region[i].fd_offset);
    }
    return true;

fail:
    if (own_channel_fds) {
        close(fds.region);
        close(fds.to_device);
        close(fds.to_proxy);
        close_layout_fds(&s->ram_layout);
    }
    return false;
}
