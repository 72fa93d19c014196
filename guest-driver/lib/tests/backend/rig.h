// SPDX-License-Identifier: Apache-2.0
// Test rig for backend.driver_*: this process plays the guest VM. It starts
// sst-sim and the backend QEMU (-machine rpc-backend -accel rpc) with guest
// RAM and the RPC channel it created, then brings devices up with the
// host-side virtio driver framework (guest-driver/lib).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vsst/sst-protocol.h"
#include "vsst/virtio/backend.h"
#include "vsst/virtio/rng_driver.h"
#include "vsst/virtio/sst_driver.h"

namespace vsst::test {

using namespace std::chrono_literals;

// Prerequisites: QEMU with the project overlay and sst-sim. Returns the
// exit code main() should use when they are missing (77 skip, 1 fail under
// VSST_REQUIRE_ALL=1), after printing why; nullopt when all is there.
std::optional<int> check_prerequisites();

struct RigOptions {
	bool with_sim = true;
	bool with_rng = true;
	virtio::RpcGuestOptions guest;
	// More devices for the backend QEMU (-device values) and other arguments.
	std::vector<std::string> extra_device_args;
	std::vector<std::string> extra_args;
};

class BackendRig {
public:
	explicit BackendRig(RigOptions opt = {});
	~BackendRig();

	virtio::RpcGuest &guest() { return *guest_; }
	virtio::Backend &backend() { return *backend_; }
	virtio::SimServer *sim() { return sim_.get(); }
	std::string qemu_log() { return backend_->process().log_tail(); }

	unsigned sst_index() const;
	std::optional<unsigned> rng_index() const;

	// Device bring-up: BARs, transport, driver.
	struct Sst {
		std::unique_ptr<virtio::RpcVirtioPci> pci;
		std::unique_ptr<virtio::SstDriver> driver;
	};
	Sst open_sst(virtio::VirtioPciTransport::Options topt = {}, virtio::SstDriver::Options dopt = {});
	struct Rng {
		std::unique_ptr<virtio::RpcVirtioPci> pci;
		std::unique_ptr<virtio::RngDriver> driver;
	};
	Rng open_rng();

private:
	virtio::TempDir dir_;
	std::unique_ptr<virtio::SimServer> sim_;
	std::unique_ptr<virtio::RpcGuest> guest_;
	std::unique_ptr<virtio::Backend> backend_;
};

SSTRequest make_request(uint32_t type);
SSTRequest make_write(uint64_t addr, const std::vector<uint8_t> &data);
SSTRequest make_read(uint64_t addr, uint32_t size);

} // namespace vsst::test

// main() for these tests: prerequisites first (skip/fail), then gtest.
#define VSST_BACKEND_TEST_MAIN()                                                                             \
	int main(int argc, char **argv)                                                                      \
	{                                                                                                    \
		if (auto rc = vsst::test::check_prerequisites())                                             \
			return *rc;                                                                          \
		::testing::InitGoogleTest(&argc, argv);                                                      \
		return RUN_ALL_TESTS();                                                                      \
	}
