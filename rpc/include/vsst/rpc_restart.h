/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_restart.h - the messages between the launcher and the guest VM's
 * rpc-channel about device-VM restarts (vmm-proxy --restart). One message per
 * SOCK_SEQPACKET datagram on the channel's restart socket.
 *
 * launcher -> guest VM: CHANNEL (with 4 descriptors: region, to_device,
 *   to_proxy, liveness pipe) after a new device VM finished its handshake;
 *   GIVE_UP (text: why) when no new device VM will come.
 * guest VM -> launcher: DOWN (text: why) when the channel failed while the
 *   device VM may still be running; UP (text: what was replayed) once the new
 *   device VM serves the guest again.
 */
#ifndef VSST_RPC_RESTART_H
#define VSST_RPC_RESTART_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vsst_restart_type {
	VSST_RESTART_CHANNEL = 1,
	VSST_RESTART_GIVE_UP = 2,
	VSST_RESTART_DOWN = 3,
	VSST_RESTART_UP = 4,
};

#define VSST_RESTART_CHANNEL_FDS 4

struct vsst_restart_msg {
	uint32_t type;
	/* DOWN/UP: how many channels the guest VM has taken before this one (0: the
	 * first), so that a DOWN about a device VM already replaced is ignored. */
	uint32_t generation;
	char text[248]; /* NUL-terminated */
};

#ifdef __cplusplus
}
#endif

#endif
