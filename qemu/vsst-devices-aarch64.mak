# SPDX-License-Identifier: GPL-2.0-or-later
# Device set of the project's qemu-system-aarch64 (guest VM and monolithic
# baseline only: the device VM is always qemu-system-x86_64, which has no CPU
# in that role). apply-overlay.py installs it as
# configs/devices/aarch64-softmmu/vsst.mak. Kept minimal so that the extra
# target costs little to build.

# target/arm's TCG code calls the v7M NVIC and semihosting (QEMU's Kconfig
# has them "default y if TCG", which --without-default-devices switches off).
CONFIG_ARM_V7M=y
# The GICv3 (and its ITS) emulation, "default y" too.
CONFIG_ARM_GICV3_TCG=y

# Board: virt (PCIe host, GICv3 with ITS, PL011 console).
CONFIG_ARM_VIRT=y

# rpc-channel and rpc-proxy-pci (split guest VM, hw/vsst-proxy).
CONFIG_VSST_PROXY=y
# The monolithic baseline's devices (the same QEMU devices the device VM has).
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_SST=y
CONFIG_VIRTIO_RNG=y
CONFIG_VIRTIO_BLK=y
