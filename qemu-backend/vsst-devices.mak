# SPDX-License-Identifier: GPL-2.0-or-later
# Device set of the project's qemu-system-x86_64 (configured with
# --without-default-devices). build-qemu.sh installs it as
# configs/devices/x86_64-softmmu/vsst.mak (plus vmm-proxy's symbols).

# Boards: pc (guest VM and monolithic baseline), microvm (virtio-mmio),
# rpc-backend (device VM).
CONFIG_I440FX=y
CONFIG_MICROVM=y
CONFIG_VSST_RPC_BACKEND=y

# Devices.
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_MMIO=y
CONFIG_VIRTIO_SST=y
CONFIG_VIRTIO_RNG=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_NET=y
CONFIG_VIRTIO_SERIAL=y
CONFIG_VGA_PCI=y
