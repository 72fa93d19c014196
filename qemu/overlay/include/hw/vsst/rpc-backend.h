/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rpc-backend: the device VM's machine (see hw/vsst/rpc-backend.c).
 *
 * Copyright (c) 2025 the vsst authors
 */
#ifndef HW_VSST_RPC_BACKEND_H
#define HW_VSST_RPC_BACKEND_H

#include "hw/boards.h"

#define TYPE_RPC_BACKEND_MACHINE MACHINE_TYPE_NAME("rpc-backend")
OBJECT_DECLARE_SIMPLE_TYPE(RpcBackendMachineState, RPC_BACKEND_MACHINE)

#define TYPE_RPC_BACKEND_PCI_HOST "rpc-backend-pcihost"

/*
 * The MSI window of the current rpc-backend machine (its msi-base/msi-size
 * properties; x86's 0xfee00000 + 1 MiB by default). False when the machine
 * is not rpc-backend or the window wraps.
 */
bool rpc_backend_msi_window(uint64_t *base, uint64_t *size);

#endif /* HW_VSST_RPC_BACKEND_H */
