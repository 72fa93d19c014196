/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * accel rpc: the device VM's "accelerator". There is no vCPU; every guest
 * access arrives as a request on the vsst RPC channel and interrupts leave
 * as events. This header is the interface between the accelerator
 * (accel/rpc/) and the rpc-backend machine (hw/vsst/rpc-backend.c).
 *
 * Copyright (c) 2025 the vsst authors
 */
#ifndef SYSEMU_RPC_ACCEL_H
#define SYSEMU_RPC_ACCEL_H

#include "qemu/accel.h"

#define TYPE_RPC_ACCEL ACCEL_CLASS_NAME("rpc")

/* Most guest RAM regions (equals VSST_RAM_MAX_REGIONS of vsst/rpc.h). */
#define RPC_ACCEL_MAX_RAM_REGIONS 8
/* Most PCI devices one backend serves (RPC address spaces 0..n-1). */
#define RPC_ACCEL_MAX_PCI_DEVICES 32

/*
 * Exit statuses of a backend QEMU (documented in qemu/README.md).
 * 1 is QEMU's own status for start-up errors (bad options, setup failed).
 */
enum RpcAccelExit {
    RPC_EXIT_CLEAN = 0,         /* STOP from the peer, or QEMU asked to quit */
    RPC_EXIT_SETUP = 1,         /* start-up error */
    RPC_EXIT_VERSION = 2,       /* HELLO with another protocol version */
    RPC_EXIT_POISONED = 3,      /* channel poisoned (either side) */
};

bool rpc_accel_enabled(void);

/*
 * Guest RAM received at set-up: region i (0..n-1). Returns false past the
 * last region. The fd stays owned by the accelerator.
 */
bool rpc_accel_ram_region(unsigned i, uint64_t *gpa, uint64_t *size,
                          uint64_t *fd_offset, int *fd);

/*
 * Add a PCI device to the table the proxy sees (index = address space n).
 * Called by the machine for every device on its bus once the command line
 * devices exist; REGISTER_PCI_DEV and START_VM follow in setup_post.
 * Returns the index or -1 with errp set.
 */
int rpc_accel_add_pci_device(PCIDevice *dev, Error **errp);
/* Index of a registered device, or -1. */
int rpc_accel_pci_index(PCIDevice *dev);
/* Index of the registered device with this requester id (bus 0), or -1. */
int rpc_accel_pci_index_by_requester(uint16_t requester_id);

/* Interrupts (any thread; never blocks on the channel). */
void rpc_accel_set_irq(unsigned index, int level);
void rpc_accel_msi(unsigned index, uint64_t address, uint32_t data);

#endif /* SYSEMU_RPC_ACCEL_H */
