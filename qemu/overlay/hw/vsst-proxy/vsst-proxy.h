/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vsst-proxy.h - guest-VM side of the vsst RPC channel.
 *
 * rpc-channel (a bus-less device) owns one proxy endpoint of a channel
 * to a device VM: it receives the backend's events in the main loop and hands
 * them to the rpc-proxy-pci devices that share it. rpc-proxy-pci shows the
 * guest one PCI device of the device VM (by its device index): config space
 * and BAR accesses are forwarded, interrupts come back as events.
 */
#ifndef HW_VSST_PROXY_H
#define HW_VSST_PROXY_H

#include "qom/object.h"
#include "hw/qdev-core.h"
#include "hw/pci/pci.h"
#include "qemu/queue.h"
#include "qemu/notify.h"
#include "qemu/rcu.h"
#include "qemu/bitmap.h"
#include "qemu/thread.h"
#include "vsst/rpc.h"

#define TYPE_RPC_CHANNEL "rpc-channel"
OBJECT_DECLARE_SIMPLE_TYPE(RpcChannel, RPC_CHANNEL)

#define TYPE_RPC_PROXY_PCI "rpc-proxy-pci"
OBJECT_DECLARE_SIMPLE_TYPE(RpcProxyPci, RPC_PROXY_PCI)

/* Ways a backend message can be wrong; each is counted and logged once. */
typedef enum RpcReject {
    RPC_REJECT_UNKNOWN_DEVICE,  /* event names a device index nobody proxies */
    RPC_REJECT_IRQ_NOT_OWNED,   /* SET_IRQ for a device not on this channel */
    RPC_REJECT_BAD_IRQ_LEVEL,   /* SET_IRQ level not clear/set/pulse */
    RPC_REJECT_BAD_MSI,         /* MSI outside the interrupt window, bad data */
    RPC_REJECT_MSI_RESERVED,    /* MSI address with reserved bits 11:4 set */
    RPC_REJECT_MSI_DELIVERY,    /* MSI delivery mode other than fixed/lowest */
    RPC_REJECT_BAD_REGION,      /* MMIO_REGION_CONFIG outside any proxied BAR */
    RPC_REJECT_UNEXPECTED,      /* op that makes no sense at this point */
    RPC_REJECT_COMPLETION,      /* completion for a slot not in flight (rpc lib) */
    RPC_REJECT__MAX,
} RpcReject;

/* Writes into these BAR ranges are posted (the backend announced them). */
typedef struct RpcPostedRange {
    int bar;
    uint64_t offset;
    uint64_t size;
} RpcPostedRange;

#define RPC_PROXY_MAX_POSTED 16

typedef struct RpcPostedTable {
    struct rcu_head rcu;
    unsigned count;
    RpcPostedRange range[RPC_PROXY_MAX_POSTED];
} RpcPostedTable;

/* What the guest programmed (rpc-proxy-state.c), for a restarted device VM. */
#define RPC_PROXY_MAX_QUEUES 64
typedef struct RpcVirtioQueueState {
    uint8_t img[0x20];      /* common config 0x18..0x37 for this queue */
    uint32_t written;       /* bit per byte of img */
} RpcVirtioQueueState;

typedef struct RpcProxyState {
    /* where things are, from the backend's capabilities (-1: none) */
    int common_bar;
    uint64_t common_off;
    int msix_bar;
    uint64_t msix_off;
    unsigned msix_entries;
    /* config space bytes the guest wrote */
    uint8_t cfg[PCIE_CONFIG_SPACE_SIZE];
    DECLARE_BITMAP(cfg_written, PCIE_CONFIG_SPACE_SIZE);
    /* MSI-X table */
    uint8_t *msix;
    unsigned long *msix_written;
    /* virtio common configuration below the queue fields */
    uint8_t common[0x18];
    uint32_t common_written;
    uint32_t features[2];
    uint32_t features_written;
    RpcVirtioQueueState queue[RPC_PROXY_MAX_QUEUES];
} RpcProxyState;

typedef struct RpcProxyBar {
    MemoryRegion mr;
    RpcProxyPci *dev;
    uint64_t size;
    uint8_t type;   /* PCI_BASE_ADDRESS_* bits as the backend reports them */
    int nr;
    bool present;
} RpcProxyBar;

struct RpcProxyPci {
    PCIDevice parent_obj;

    /* properties */
    RpcChannel *chan;
    uint32_t index;

    RpcProxyBar bar[PCI_ROM_SLOT];
    RpcPostedTable *posted;          /* RCU: read in the vCPU access path */
    QLIST_ENTRY(RpcProxyPci) next;

    /* counters (atomic; readable as QOM properties) */
    uint64_t reads;
    uint64_t writes;
    uint64_t posted_writes;
    uint64_t errors;
    bool error_reported;
    RpcProxyState *state;            /* BQL */
};

struct RpcChannel {
    DeviceState parent_obj;

    /* properties */
    char *fds;          /* "region:to_device:to_proxy" inherited fd numbers */
    int32_t peer_fd;    /* EOF/HUP on it means the device VM is gone; -1 none */
    uint32_t timeout_ms;
    bool handshake;     /* do HELLO..START_VM here (else the launcher did) */
    int32_t restart_fd; /* socket to the launcher: new device VMs; -1 none */
    uint32_t restart_wait_ms; /* how long accesses wait for a new one */
    uint32_t doorbell_poll_us; /* after a doorbell, wait this long for events */
    uint32_t spin_us;          /* spin before blocking (ours, not the header's) */
    char *timing;              /* "free" (default) or "sync" */

    /* synchronized time (timing=sync) */
    bool timed;
    QEMUTimer *time_timer;     /* QEMU_CLOCK_VIRTUAL: the device VM's next time */
    uint64_t time_syncs;

    vsst_rpc *rpc;
    QEMUBH *drain_bh;   /* continues a long event batch */
    QEMUBH *dead_bh;    /* main-loop half of rpc_channel_set_dead */
    Notifier exit_notifier; /* STOP to the device VM when QEMU exits */
    bool dead;          /* atomic: read by vCPUs */
    char *dead_reason;
    unsigned timeouts_in_row; /* atomic */
    uint64_t last_lib_rejected;
    QLIST_HEAD(, RpcProxyPci) devices;
    /* restart: down while no device VM serves the channel (see rpc-channel.c) */
    bool down;          /* atomic */
    bool gave_up;       /* atomic: the launcher will not restart any more */
    QemuMutex up_lock;
    QemuCond up_cond;
    QEMUBH *down_bh;
    char *down_reason;  /* up_lock */
    GPtrArray *retired; /* old vsst_rpc handles: a vCPU may still hold one */
    uint32_t restarts;  /* device VMs resumed */
    uint32_t generation; /* channels received from the launcher */
    int64_t down_since_ns;
    uint64_t events;
    uint64_t rejected[RPC_REJECT__MAX];
    bool reported[RPC_REJECT__MAX];
};

/* rpc-channel.c */
bool rpc_channel_alive(RpcChannel *ch);
void rpc_channel_set_dead(RpcChannel *ch, const char *reason);
void rpc_channel_attach_device(RpcChannel *ch, RpcProxyPci *dev);
void rpc_channel_detach_device(RpcChannel *ch, RpcProxyPci *dev);
RpcProxyPci *rpc_channel_find_device(RpcChannel *ch, uint32_t index);
/*
 * One forwarded access, waiting (bounded) with the BQL released if the
 * caller holds it. Returns 0 or a negative errno; on error a read's *data is
 * all-ones for len bytes. Posted writes do not wait for a completion.
 */
int rpc_channel_access(RpcChannel *ch, unsigned as, uint64_t addr,
                       unsigned len, bool write, bool posted, uint64_t *data);

/*
 * After a posted doorbell: poll the events ring for up to doorbell-poll-us
 * and handle what arrives in this (vCPU) thread, so that the interrupt of a
 * quick answer is pending when the guest resumes instead of waiting for the
 * main loop to wake up. Needs the BQL (held by MMIO dispatch in QEMU 7.2).
 */
void rpc_channel_poll_after_doorbell(RpcChannel *ch);

/*
 * Restart replay: one synchronous write on a channel not yet in use (rpc),
 * with the BQL held. Returns 0 or a negative errno.
 */
int rpc_channel_replay_access(RpcChannel *ch, vsst_rpc *rpc, unsigned as,
                              uint64_t addr, unsigned len, uint64_t *data);

/* rpc-proxy-state.c */
void rpc_proxy_state_init(RpcProxyPci *dev);
void rpc_proxy_state_free(RpcProxyPci *dev);
void rpc_proxy_state_config_write(RpcProxyPci *dev, uint32_t addr,
                                  uint32_t val, int len);
void rpc_proxy_state_bar_write(RpcProxyPci *dev, int nr, uint64_t off,
                               uint64_t val, unsigned size);
/* Brings a fresh device VM's device to the recorded state; 0 or -errno. */
int rpc_proxy_state_replay(RpcProxyPci *dev, vsst_rpc *rpc, unsigned *writes);

/*
 * Synchronized time (timing=sync): after a BAR write, tell the device VM the
 * guest's virtual time and take the interrupts that are due at it (BQL
 * held, bounded wait). No-op on a free channel.
 */
bool rpc_channel_timed(RpcChannel *ch);
void rpc_channel_time_sync(RpcChannel *ch);

/* rpc-proxy-pci.c */
int rpc_proxy_config_read(RpcProxyPci *dev, uint32_t addr, int len,
                          uint32_t *val);
uint64_t rpc_proxy_programmed_base(RpcProxyPci *dev, int nr);
void rpc_proxy_pci_set_irq(RpcProxyPci *dev, unsigned level);
void rpc_proxy_pci_msi(RpcProxyPci *dev, uint64_t addr, uint32_t data);
/*
 * RPC_REJECT__MAX when (addr, data) is an MSI this guest platform's
 * interrupt controller takes, else the reason to refuse it
 * (rpc-proxy-msi.c).
 */
RpcReject rpc_proxy_msi_check(uint64_t addr, uint64_t data);
/* Records a posted range if [addr, addr + size) lies inside one of the
 * device's programmed memory BARs; false otherwise. */
bool rpc_proxy_pci_add_posted(RpcProxyPci *dev, uint64_t addr, uint64_t size);
void rpc_proxy_pci_channel_died(RpcProxyPci *dev);

#endif
