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

#endif /* HW_VSST_RPC_BACKEND_H */
