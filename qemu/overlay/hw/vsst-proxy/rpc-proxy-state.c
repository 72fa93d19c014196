/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rpc-proxy-state: what the guest programmed into a proxied device, kept on
 * this side so that a device VM started after a crash can be brought to
 * where the old one was, without the guest noticing (rpc-channel restart=).
 *
 * Kept: every config-space byte the guest wrote (BARs, command, capability
 * registers such as MSI-X enable), the MSI-X table, and for virtio-pci
 * devices the common configuration: driver features, MSI-X config vector,
 * per queue size, vector, ring addresses and enable, and the status. A write
 * of status 0 (reset) forgets the virtio part, as the device does.
 *
 * Where the MSI-X table and the common configuration live is read from the
 * backend's capability list at realize time. Device-specific virtio
 * configuration writes are not kept (none of the supported devices needs
 * them after set-up).
 */

#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "qemu/error-report.h"
#include "hw/pci/pci.h"
#include "hw/pci/pci_regs.h"
#include "standard-headers/linux/virtio_pci.h"
#include "standard-headers/linux/virtio_config.h"
#include "vsst-proxy.h"

#define COMMON_QUEUE_FIRST 0x18   /* queue_size */
#define COMMON_QUEUE_END 0x38     /* past queue_device's high half */

/* Capabilities come from the device VM: bounded walk, checked values. */
static void rpc_proxy_state_find_caps(RpcProxyPci *dev, RpcProxyState *st)
{
    uint32_t status = 0, ptr = 0, v;
    int hops;

    st->common_bar = -1;
    st->msix_bar = -1;
    if (rpc_proxy_config_read(dev, PCI_STATUS, 2, &status) < 0 ||
        !(status & PCI_STATUS_CAP_LIST) ||
        rpc_proxy_config_read(dev, PCI_CAPABILITY_LIST, 1, &ptr) < 0) {
        return;
    }
    for (hops = 0; hops < 48 && ptr >= 0x40 && ptr < 0xfc; hops++) {
        uint32_t id = 0, next = 0;

        ptr &= ~3u;
        if (rpc_proxy_config_read(dev, ptr, 1, &id) < 0 ||
            rpc_proxy_config_read(dev, ptr + 1, 1, &next) < 0) {
            return;
        }
        if (id == PCI_CAP_ID_MSIX &&
            rpc_proxy_config_read(dev, ptr + PCI_MSIX_FLAGS, 2, &v) == 0) {
            uint32_t table = 0;

            if (rpc_proxy_config_read(dev, ptr + PCI_MSIX_TABLE, 4,
                                      &table) == 0 &&
                dev->bar[table & PCI_MSIX_FLAGS_BIRMASK].present) {
                st->msix_bar = table & PCI_MSIX_FLAGS_BIRMASK;
                st->msix_off = table & ~PCI_MSIX_FLAGS_BIRMASK;
                st->msix_entries = (v & PCI_MSIX_FLAGS_QSIZE) + 1;
            }
        } else if (id == PCI_CAP_ID_VNDR) {
            uint32_t type = 0, bar = 0, off = 0, len = 0;

            if (rpc_proxy_config_read(dev, ptr + 3, 1, &type) == 0 &&
                type == VIRTIO_PCI_CAP_COMMON_CFG &&
                rpc_proxy_config_read(dev, ptr + 4, 1, &bar) == 0 &&
                rpc_proxy_config_read(dev, ptr + 8, 4, &off) == 0 &&
                rpc_proxy_config_read(dev, ptr + 12, 4, &len) == 0 &&
                bar < PCI_ROM_SLOT && dev->bar[bar].present &&
                len >= COMMON_QUEUE_END && off < dev->bar[bar].size &&
                len <= dev->bar[bar].size - off) {
                st->common_bar = bar;
                st->common_off = off;
            }
        }
        ptr = next;
    }
    if (st->msix_bar >= 0) {
        uint64_t bytes = (uint64_t)st->msix_entries * PCI_MSIX_ENTRY_SIZE;

        if (st->msix_off >= dev->bar[st->msix_bar].size ||
            bytes > dev->bar[st->msix_bar].size - st->msix_off) {
            st->msix_bar = -1;
        } else {
            st->msix = g_malloc0(bytes);
            st->msix_written = bitmap_new(bytes);
        }
    }
}

void rpc_proxy_state_init(RpcProxyPci *dev)
{
    dev->state = g_new0(RpcProxyState, 1);
    rpc_proxy_state_find_caps(dev, dev->state);
}

void rpc_proxy_state_free(RpcProxyPci *dev)
{
    if (dev->state) {
        g_free(dev->state->msix);
        g_free(dev->state->msix_written);
        g_free(dev->state);
        dev->state = NULL;
    }
}

void rpc_proxy_state_config_write(RpcProxyPci *dev, uint32_t addr,
                                  uint32_t val, int len)
{
    RpcProxyState *st = dev->state;

    for (int i = 0; st && i < len && addr + i < PCIE_CONFIG_SPACE_SIZE; i++) {
        st->cfg[addr + i] = val >> (8 * i);
        set_bit(addr + i, st->cfg_written);
    }
}

static void rpc_proxy_state_common_byte(RpcProxyState *st, unsigned c,
                                        uint8_t b)
{
    if (c == VIRTIO_PCI_COMMON_STATUS && b == 0) {
        /* Reset: the device forgets features and queues, so do we. */
        memset(st->queue, 0, sizeof(st->queue));
        memset(st->features, 0, sizeof(st->features));
        st->features_written = 0;
        st->common_written &= (1u << VIRTIO_PCI_COMMON_DFSELECT) * 0xf |
                              (1u << VIRTIO_PCI_COMMON_GFSELECT) * 0xf |
                              (3u << VIRTIO_PCI_COMMON_Q_SELECT);
        st->common[c] = 0;
        return;
    }
    if (c >= VIRTIO_PCI_COMMON_GF && c < VIRTIO_PCI_COMMON_GF + 4) {
        uint32_t sel = ldl_le_p(st->common + VIRTIO_PCI_COMMON_GFSELECT);

        if (sel < ARRAY_SIZE(st->features)) {
            st->features[sel] &= ~(0xffu << (8 * (c - VIRTIO_PCI_COMMON_GF)));
            st->features[sel] |= (uint32_t)b << (8 * (c - VIRTIO_PCI_COMMON_GF));
            st->features_written |= 1u << sel;
        }
        return;
    }
    if (c >= COMMON_QUEUE_FIRST && c < COMMON_QUEUE_END) {
        uint16_t q = lduw_le_p(st->common + VIRTIO_PCI_COMMON_Q_SELECT);

        if (q < RPC_PROXY_MAX_QUEUES) {
            st->queue[q].img[c - COMMON_QUEUE_FIRST] = b;
            st->queue[q].written |= 1u << (c - COMMON_QUEUE_FIRST);
        }
        return;
    }
    if (c < COMMON_QUEUE_FIRST) {
        st->common[c] = b;
        st->common_written |= 1u << c;
    }
}

void rpc_proxy_state_bar_write(RpcProxyPci *dev, int nr, uint64_t off,
                               uint64_t val, unsigned size)
{
    RpcProxyState *st = dev->state;

    if (!st) {
        return;
    }
    for (unsigned i = 0; i < size; i++) {
        uint64_t o = off + i;
        uint8_t b = val >> (8 * i);

        if (nr == st->common_bar && o >= st->common_off &&
            o - st->common_off < COMMON_QUEUE_END) {
            rpc_proxy_state_common_byte(st, o - st->common_off, b);
        } else if (nr == st->msix_bar && o >= st->msix_off &&
                   o - st->msix_off <
                   (uint64_t)st->msix_entries * PCI_MSIX_ENTRY_SIZE) {
            st->msix[o - st->msix_off] = b;
            set_bit(o - st->msix_off, st->msix_written);
        }
    }
}

/* Replay helpers: each a synchronous access on the new channel. */
typedef struct Replay {
    RpcProxyPci *dev;
    vsst_rpc *rpc;
    int err;
    unsigned writes;
} Replay;

static void replay_config(Replay *r, uint32_t addr, uint32_t val, int len)
{
    uint64_t data = val;
    int e;

    if (r->err) {
        return;
    }
    e = rpc_channel_replay_access(r->dev->chan, r->rpc, r->dev->index, addr,
                                  len, &data);
    r->err = e;
    r->writes++;
}

static void replay_bar(Replay *r, int nr, uint64_t off, uint64_t val,
                       unsigned len)
{
    uint64_t data = val;
    uint64_t base = rpc_proxy_programmed_base(r->dev, nr);

    if (r->err || !base) {
        return;
    }
    r->err = rpc_channel_replay_access(r->dev->chan, r->rpc,
                                       VSST_RPC_AS_GLOBAL, base + off, len,
                                       &data);
    r->writes++;
}

/* Written bytes of [from, to): whole dwords where the guest wrote all four. */
static void replay_config_range(Replay *r, RpcProxyState *st, uint32_t from,
                                uint32_t to)
{
    for (uint32_t a = from; a < to; a += 4) {
        bool all = true, any = false;

        for (int i = 0; i < 4; i++) {
            bool w = test_bit(a + i, st->cfg_written);

            all &= w;
            any |= w;
        }
        if (all) {
            replay_config(r, a, ldl_le_p(st->cfg + a), 4);
        } else if (any) {
            for (int i = 0; i < 4; i++) {
                if (test_bit(a + i, st->cfg_written)) {
                    replay_config(r, a + i, st->cfg[a + i], 1);
                }
            }
        }
    }
}

static void replay_common(Replay *r, RpcProxyState *st, unsigned c,
                          uint64_t val, unsigned len)
{
    replay_bar(r, st->common_bar, st->common_off + c, val, len);
}

static bool common_has(RpcProxyState *st, unsigned c, unsigned len)
{
    return ((st->common_written >> c) & ((1u << len) - 1)) ==
           (1u << len) - 1;
}

static void replay_virtio(Replay *r, RpcProxyState *st)
{
    uint8_t status = st->common[VIRTIO_PCI_COMMON_STATUS];
    const uint8_t early = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

    if (st->common_bar < 0 ||
        !(st->common_written & (1u << VIRTIO_PCI_COMMON_STATUS)) || !status) {
        return;
    }
    replay_common(r, st, VIRTIO_PCI_COMMON_STATUS, status & early, 1);
    for (unsigned sel = 0; sel < ARRAY_SIZE(st->features); sel++) {
        if (st->features_written & (1u << sel)) {
            replay_common(r, st, VIRTIO_PCI_COMMON_GFSELECT, sel, 4);
            replay_common(r, st, VIRTIO_PCI_COMMON_GF, st->features[sel], 4);
        }
    }
    if (status & VIRTIO_CONFIG_S_FEATURES_OK) {
        replay_common(r, st, VIRTIO_PCI_COMMON_STATUS,
                      status & (early | VIRTIO_CONFIG_S_FEATURES_OK), 1);
    }
    if (common_has(st, VIRTIO_PCI_COMMON_MSIX, 2)) {
        replay_common(r, st, VIRTIO_PCI_COMMON_MSIX,
                      lduw_le_p(st->common + VIRTIO_PCI_COMMON_MSIX), 2);
    }
    for (unsigned q = 0; q < RPC_PROXY_MAX_QUEUES; q++) {
        RpcVirtioQueueState *qs = &st->queue[q];
        static const unsigned fields[][2] = {
            { VIRTIO_PCI_COMMON_Q_SIZE, 2 }, { VIRTIO_PCI_COMMON_Q_MSIX, 2 },
            { VIRTIO_PCI_COMMON_Q_DESCLO, 4 }, { VIRTIO_PCI_COMMON_Q_DESCHI, 4 },
            { VIRTIO_PCI_COMMON_Q_AVAILLO, 4 }, { VIRTIO_PCI_COMMON_Q_AVAILHI, 4 },
            { VIRTIO_PCI_COMMON_Q_USEDLO, 4 }, { VIRTIO_PCI_COMMON_Q_USEDHI, 4 },
        };

        if (!qs->written) {
            continue;
        }
        replay_common(r, st, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
        for (unsigned f = 0; f < ARRAY_SIZE(fields); f++) {
            unsigned c = fields[f][0] - COMMON_QUEUE_FIRST, len = fields[f][1];

            if (((qs->written >> c) & ((1u << len) - 1)) == (1u << len) - 1) {
                replay_common(r, st, fields[f][0], len == 4 ?
                              ldl_le_p(qs->img + c) : lduw_le_p(qs->img + c),
                              len);
            }
        }
        /* Enabling last: that is when the device VM resumes the queue. */
        if (lduw_le_p(qs->img + VIRTIO_PCI_COMMON_Q_ENABLE -
                      COMMON_QUEUE_FIRST)) {
            replay_common(r, st, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
        }
    }
    /* The guest's selectors as it left them. */
    if (common_has(st, VIRTIO_PCI_COMMON_DFSELECT, 4)) {
        replay_common(r, st, VIRTIO_PCI_COMMON_DFSELECT,
                      ldl_le_p(st->common + VIRTIO_PCI_COMMON_DFSELECT), 4);
    }
    if (common_has(st, VIRTIO_PCI_COMMON_GFSELECT, 4)) {
        replay_common(r, st, VIRTIO_PCI_COMMON_GFSELECT,
                      ldl_le_p(st->common + VIRTIO_PCI_COMMON_GFSELECT), 4);
    }
    if (common_has(st, VIRTIO_PCI_COMMON_Q_SELECT, 2)) {
        replay_common(r, st, VIRTIO_PCI_COMMON_Q_SELECT,
                      lduw_le_p(st->common + VIRTIO_PCI_COMMON_Q_SELECT), 2);
    }
    replay_common(r, st, VIRTIO_PCI_COMMON_STATUS, status, 1);
}

int rpc_proxy_state_replay(RpcProxyPci *dev, vsst_rpc *rpc, unsigned *writes)
{
    RpcProxyState *st = dev->state;
    Replay r = { .dev = dev, .rpc = rpc };
    if (!st) {
        return 0;
    }
    /* BARs while decoding is off, the rest, then the command register. */
    replay_config_range(&r, st, PCI_BASE_ADDRESS_0, PCI_CARDBUS_CIS);
    replay_config_range(&r, st, PCI_CACHE_LINE_SIZE, PCI_BASE_ADDRESS_0);
    replay_config_range(&r, st, PCI_CARDBUS_CIS, PCIE_CONFIG_SPACE_SIZE);
    if (test_bit(PCI_COMMAND, st->cfg_written) ||
        test_bit(PCI_COMMAND + 1, st->cfg_written)) {
        replay_config(&r, PCI_COMMAND, lduw_le_p(st->cfg + PCI_COMMAND), 2);
    }
    /* The table and the queues need memory decoding in the device VM. */
    if (lduw_le_p(st->cfg + PCI_COMMAND) & PCI_COMMAND_MEMORY) {
        for (unsigned o = 0; st->msix_bar >= 0 &&
             o < st->msix_entries * PCI_MSIX_ENTRY_SIZE; o += 4) {
            if (test_bit(o, st->msix_written)) {
                replay_bar(&r, st->msix_bar, st->msix_off + o,
                           ldl_le_p(st->msix + o), 4);
            }
        }
        replay_virtio(&r, st);
    }
    *writes = r.writes;
    return r.err;
}
