// SPDX-License-Identifier: Apache-2.0
// Constants from the virtio 1.2 specification used by the framework
// (status bits, reserved feature bits, split ring flags, PCI capability
// layout, virtio-mmio register offsets). Values are the specification's.
#pragma once

#include <cstdint>

namespace vsst::virtio {

// Device status (2.1).
namespace status {
inline constexpr uint8_t kAcknowledge = 1;
inline constexpr uint8_t kDriver = 2;
inline constexpr uint8_t kDriverOk = 4;
inline constexpr uint8_t kFeaturesOk = 8;
inline constexpr uint8_t kNeedsReset = 64;
inline constexpr uint8_t kFailed = 128;
} // namespace status

// Reserved feature bits (6).
namespace feature {
inline constexpr unsigned kIndirectDesc = 28;
inline constexpr unsigned kEventIdx = 29;
inline constexpr unsigned kVersion1 = 32;
inline constexpr unsigned kAccessPlatform = 33;
inline constexpr unsigned kRingPacked = 34;
inline constexpr uint64_t bit(unsigned n)
{
	return uint64_t{1} << n;
}
} // namespace feature

// Device IDs (5) used by the drivers here.
namespace device_id {
inline constexpr uint32_t kBlock = 2;
inline constexpr uint32_t kEntropy = 4;
} // namespace device_id

// Split virtqueue (2.7).
namespace ring {
inline constexpr uint16_t kDescNext = 1;
inline constexpr uint16_t kDescWrite = 2;
inline constexpr uint16_t kDescIndirect = 4;
inline constexpr uint16_t kAvailNoInterrupt = 1;
inline constexpr uint16_t kUsedNoNotify = 1;
inline constexpr uint16_t kMaxSize = 32768;
} // namespace ring

// PCI (4.1).
namespace pci {
inline constexpr uint16_t kVirtioVendor = 0x1af4;
inline constexpr uint16_t kModernDeviceBase = 0x1040;
inline constexpr uint16_t kTransitionalFirst = 0x1000;
inline constexpr uint16_t kTransitionalLast = 0x103f;

inline constexpr unsigned kVendorId = 0x00;
inline constexpr unsigned kDeviceId = 0x02;
inline constexpr unsigned kCommand = 0x04;
inline constexpr unsigned kStatus = 0x06;
inline constexpr unsigned kRevision = 0x08;
inline constexpr unsigned kClassCode = 0x09; // 3 bytes: prog-if, subclass, class
inline constexpr unsigned kHeaderType = 0x0e;
inline constexpr unsigned kBar0 = 0x10;
inline constexpr unsigned kSubsystemId = 0x2e;
inline constexpr unsigned kCapPtr = 0x34;
inline constexpr unsigned kInterruptPin = 0x3d;
inline constexpr unsigned kConfigSize = 256; // conventional space; caps live here

inline constexpr uint16_t kCmdIo = 1u << 0;
inline constexpr uint16_t kCmdMemory = 1u << 1;
inline constexpr uint16_t kCmdBusMaster = 1u << 2;
inline constexpr uint16_t kCmdIntxDisable = 1u << 10;
inline constexpr uint16_t kStatusCapList = 1u << 4;

inline constexpr uint8_t kCapVendor = 0x09;
inline constexpr uint8_t kCapMsix = 0x11;

// virtio_pci_cap.cfg_type
inline constexpr uint8_t kCapCommonCfg = 1;
inline constexpr uint8_t kCapNotifyCfg = 2;
inline constexpr uint8_t kCapIsrCfg = 3;
inline constexpr uint8_t kCapDeviceCfg = 4;
inline constexpr uint8_t kCapPciCfg = 5;

// virtio_pci_cap field offsets (relative to the capability).
inline constexpr unsigned kCapOffLen = 2;
inline constexpr unsigned kCapOffCfgType = 3;
inline constexpr unsigned kCapOffBar = 4;
inline constexpr unsigned kCapOffOffset = 8;
inline constexpr unsigned kCapOffLength = 12;
inline constexpr unsigned kCapOffNotifyMultiplier = 16;

// MSI-X capability.
inline constexpr unsigned kMsixOffControl = 2;
inline constexpr unsigned kMsixOffTable = 4;
inline constexpr uint16_t kMsixEnable = 1u << 15;
inline constexpr uint16_t kMsixFunctionMask = 1u << 14;
inline constexpr unsigned kMsixEntrySize = 16;
inline constexpr uint16_t kNoVector = 0xffff;

// virtio_pci_common_cfg register offsets.
namespace common {
inline constexpr unsigned kDeviceFeatureSelect = 0x00;
inline constexpr unsigned kDeviceFeature = 0x04;
inline constexpr unsigned kDriverFeatureSelect = 0x08;
inline constexpr unsigned kDriverFeature = 0x0c;
inline constexpr unsigned kMsixConfig = 0x10;
inline constexpr unsigned kNumQueues = 0x12;
inline constexpr unsigned kDeviceStatus = 0x14;
inline constexpr unsigned kConfigGeneration = 0x15;
inline constexpr unsigned kQueueSelect = 0x16;
inline constexpr unsigned kQueueSize = 0x18;
inline constexpr unsigned kQueueMsixVector = 0x1a;
inline constexpr unsigned kQueueEnable = 0x1c;
inline constexpr unsigned kQueueNotifyOff = 0x1e;
inline constexpr unsigned kQueueDesc = 0x20;
inline constexpr unsigned kQueueDriver = 0x28;
inline constexpr unsigned kQueueDevice = 0x30;
inline constexpr unsigned kSize = 0x38;
} // namespace common
} // namespace pci

// virtio-mmio (4.2.2), version 2 register offsets.
namespace mmio {
inline constexpr uint32_t kMagicValue = 0x74726976; // "virt"
inline constexpr unsigned kMagic = 0x000;
inline constexpr unsigned kVersion = 0x004;
inline constexpr unsigned kDeviceId = 0x008;
inline constexpr unsigned kVendorId = 0x00c;
inline constexpr unsigned kDeviceFeatures = 0x010;
inline constexpr unsigned kDeviceFeaturesSel = 0x014;
inline constexpr unsigned kDriverFeatures = 0x020;
inline constexpr unsigned kDriverFeaturesSel = 0x024;
inline constexpr unsigned kQueueSel = 0x030;
inline constexpr unsigned kQueueNumMax = 0x034;
inline constexpr unsigned kQueueNum = 0x038;
inline constexpr unsigned kQueueReady = 0x044;
inline constexpr unsigned kQueueNotify = 0x050;
inline constexpr unsigned kInterruptStatus = 0x060;
inline constexpr unsigned kInterruptAck = 0x064;
inline constexpr unsigned kStatus = 0x070;
inline constexpr unsigned kQueueDescLow = 0x080;
inline constexpr unsigned kQueueDescHigh = 0x084;
inline constexpr unsigned kQueueDriverLow = 0x090;
inline constexpr unsigned kQueueDriverHigh = 0x094;
inline constexpr unsigned kQueueDeviceLow = 0x0a0;
inline constexpr unsigned kQueueDeviceHigh = 0x0a4;
inline constexpr unsigned kConfigGeneration = 0x0fc;
inline constexpr unsigned kConfig = 0x100;
inline constexpr unsigned kRegionSize = 0x200;
inline constexpr uint32_t kIntUsedBuffer = 1;
inline constexpr uint32_t kIntConfigChange = 2;
} // namespace mmio

// ISR status bits (virtio-pci).
inline constexpr uint8_t kIsrQueue = 1;
inline constexpr uint8_t kIsrConfig = 2;

} // namespace vsst::virtio
