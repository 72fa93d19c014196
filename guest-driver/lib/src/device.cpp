// SPDX-License-Identifier: Apache-2.0
#include "vsst/virtio/device.h"

#include <bit>
#include <cstring>

#include "vsst/virtio/blk_driver.h"
#include "vsst/virtio/error.h"
#include "vsst/virtio/rng_driver.h"
#include "vsst/virtio/spec.h"
#include "vsst/virtio/sst_driver.h"

namespace vsst::virtio {

VirtioDevice::VirtioDevice(Transport &transport, GuestMemory &mem) : t_(transport), mem_(mem)
{
}

VirtioDevice::~VirtioDevice()
{
	// The rings are freed with this object: stop the device first so it
	// cannot write into memory that gets reused. Never throw from here.
	if (!queues_.empty()) {
		try {
			t_.reset();
		} catch (...) {
		}
	}
}

uint64_t VirtioDevice::negotiate(uint64_t supported, uint64_t required, bool use_event_idx)
{
	t_.reset(); // first: old rings may be freed only once the device let go
	queues_.clear();
	t_.set_status(status::kAcknowledge);
	t_.set_status(status::kAcknowledge | status::kDriver);
	const uint64_t offered = t_.device_features();
	uint64_t wanted = supported | required | feature::bit(feature::kVersion1);
	if (use_event_idx)
		wanted |= feature::bit(feature::kEventIdx);
	required |= feature::bit(feature::kVersion1);
	if ((offered & required) != required) {
		fail();
		throw Error(t_.name() + ": device lacks required features (offered " + hex(offered) +
			    ", missing " + hex(required & ~offered) + ")");
	}
	features_ = offered & wanted;
	t_.set_driver_features(features_);
	t_.set_status(status::kAcknowledge | status::kDriver | status::kFeaturesOk);
	if (!(t_.status() & status::kFeaturesOk)) {
		fail();
		throw Error(t_.name() + ": device did not accept the feature set");
	}
	return features_;
}

void VirtioDevice::setup_queues(std::span<const uint16_t> max_sizes)
{
	const uint16_t available = t_.num_queues();
	if (max_sizes.size() > available)
		throw Error(t_.name() + ": driver needs " + std::to_string(max_sizes.size()) +
			    " queues, device has " + std::to_string(available));
	queues_.clear();
	t_.setup_interrupts(static_cast<uint16_t>(max_sizes.size()));
	const bool event_idx = has_feature(feature::kEventIdx);
	for (uint16_t q = 0; q < max_sizes.size(); q++) {
		const uint16_t dev_max = t_.queue_max_size(q);
		if (dev_max == 0)
			throw Error(t_.name() + ": queue " + std::to_string(q) + " not available");
		uint16_t size = std::min<uint16_t>(dev_max, max_sizes[q]);
		size = std::bit_floor(size);
		if (size == 0)
			throw Error(t_.name() + ": queue " + std::to_string(q) + " has size 0");
		auto vq = std::make_unique<SplitVirtqueue>(mem_, q, size, event_idx,
							   [this](uint16_t i) { t_.notify(i); });
		t_.enable_queue(q, size, vq->addresses());
		queues_.push_back(std::move(vq));
	}
}

SplitVirtqueue &VirtioDevice::queue(uint16_t q)
{
	if (q >= queues_.size())
		throw Error(t_.name() + ": queue " + std::to_string(q) + " is not set up (device reset?)");
	return *queues_[q];
}

const SplitVirtqueue &VirtioDevice::queue(uint16_t q) const
{
	return const_cast<VirtioDevice *>(this)->queue(q);
}

void VirtioDevice::driver_ok()
{
	t_.set_status(status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk);
	if (t_.status() & status::kNeedsReset)
		throw Error(t_.name() + ": device needs reset right after DRIVER_OK");
}

bool VirtioDevice::needs_reset()
{
	if (t_.status() & status::kNeedsReset)
		return true;
	for (auto &q : queues_)
		if (q->broken())
			return true;
	return false;
}

void VirtioDevice::reset()
{
	t_.reset();
	queues_.clear();
}

void VirtioDevice::fail()
{
	try {
		t_.set_status(static_cast<uint8_t>(t_.status() | status::kFailed));
	} catch (...) {
	}
}

void VirtioDevice::read_config_bytes(unsigned offset, std::byte *out, size_t len)
{
	if (offset > t_.config_size() || len > t_.config_size() - offset)
		throw Error(t_.name() + ": config read beyond the device config area");
	for (int attempt = 0; attempt < 16; attempt++) {
		const uint32_t gen = t_.config_generation();
		size_t i = 0;
		while (i < len) {
			const unsigned o = offset + static_cast<unsigned>(i);
			unsigned width = (len - i >= 4 && o % 4 == 0)   ? 4
					 : (len - i >= 2 && o % 2 == 0) ? 2
									: 1;
			const uint32_t v = t_.read_config(o, width);
			std::memcpy(out + i, &v, width);
			i += width;
		}
		if (t_.config_generation() == gen)
			return;
	}
	throw Error(t_.name() + ": config generation kept changing");
}

DriverRegistry DriverRegistry::with_builtin_drivers()
{
	DriverRegistry r;
	r.add(SstDriver::kDeviceId, [](Transport &t, GuestMemory &m) -> std::unique_ptr<Driver> {
		return std::make_unique<SstDriver>(t, m);
	});
	r.add(device_id::kEntropy, [](Transport &t, GuestMemory &m) -> std::unique_ptr<Driver> {
		return std::make_unique<RngDriver>(t, m);
	});
	r.add(device_id::kBlock, [](Transport &t, GuestMemory &m) -> std::unique_ptr<Driver> {
		return std::make_unique<BlkDriver>(t, m);
	});
	return r;
}

void DriverRegistry::add(uint32_t device_id, Factory factory)
{
	entries_.emplace_back(device_id, factory);
}

std::unique_ptr<Driver> DriverRegistry::probe(Transport &t, GuestMemory &mem) const
{
	for (auto &[id, factory] : entries_)
		if (id == t.device_id())
			return factory(t, mem);
	return nullptr;
}

} // namespace vsst::virtio
