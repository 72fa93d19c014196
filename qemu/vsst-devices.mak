# SPDX-License-Identifier: GPL-2.0-or-later
# Device set of the project's qemu-system-x86_64 (configured with
# --without-default-devices). apply-overlay.py installs it as
# configs/devices/x86_64-softmmu/vsst.mak. Every overlay Kconfig symbol that
# should be built is listed here: `default y` switches nothing on.

# Boards: pc (guest VM and monolithic baseline), microvm (virtio-mmio),
# rpc-backend (device VM, hw/vsst).
CONFIG_I440FX=y
CONFIG_MICROVM=y
CONFIG_VSST_RPC_BACKEND=y

# Devices.
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_MMIO=y
CONFIG_VIRTIO_SST=y
# rpc-channel and rpc-proxy-pci (guest VM, hw/vsst-proxy).
CONFIG_VSST_PROXY=y
CONFIG_VIRTIO_RNG=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_NET=y
CONFIG_VIRTIO_SERIAL=y
# virtio-9p-pci (fsdev local) in the device VM: vmm-proxy --share. Needs
# build-qemu.sh's --enable-virtfs; FSDEV_9P is selected by it.
CONFIG_VIRTIO_9P=y
CONFIG_VGA_PCI=y
