# SPDX-License-Identifier: GPL-2.0-or-later
# Device set of the project's qemu-system-riscv64 (guest VM and monolithic
# baseline only: the device VM is always qemu-system-x86_64, which has no CPU
# in that role). apply-overlay.py installs it as
# configs/devices/riscv64-softmmu/vsst.mak. Kept minimal so that the extra
# target costs little to build.

# target/riscv refers to semihosting (as QEMU's own default.mak has it).
CONFIG_SEMIHOSTING=y
CONFIG_ARM_COMPATIBLE_SEMIHOSTING=y

# Board: virt (PCIe host, PLIC or AIA APLIC+IMSIC, 16550 console).
CONFIG_RISCV_VIRT=y

# rpc-channel and rpc-proxy-pci (split guest VM, hw/vsst-proxy).
CONFIG_VSST_PROXY=y
# The monolithic baseline's devices (the same QEMU devices the device VM has).
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_SST=y
CONFIG_VIRTIO_RNG=y
CONFIG_VIRTIO_BLK=y
