// SPDX-License-Identifier: Apache-2.0
#include "rig.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "vsst/devvm/binaries.h"
#include "vsst/virtio/error.h"
#include "vsst/virtio/spec.h"

namespace vsst::test {

std::optional<int> check_prerequisites()
{
	const bool require = [] {
		const char *v = std::getenv("VSST_REQUIRE_ALL");
		return v && std::strcmp(v, "1") == 0;
	}();
	std::string missing;
	if (!devvm::executable(devvm::default_qemu()))
		missing += " QEMU (" + devvm::default_qemu() + "; set VSST_QEMU or run ./vsst qemu)";
	if (!devvm::executable(devvm::default_sim()))
		missing += " sst-sim (" + devvm::default_sim() + "; set VSST_BIN or build it)";
	if (missing.empty())
		return std::nullopt;
	if (require) {
		std::fprintf(stderr, "FAIL: VSST_REQUIRE_ALL=1 and missing:%s\n", missing.c_str());
		return 1;
	}
	std::fprintf(stderr, "SKIP: missing:%s\n", missing.c_str());
	return 77;
}

BackendRig::BackendRig(RigOptions opt) : dir_("vsst-backend-driver")
{
	std::string sock;
	if (opt.with_sim) {
		sock = dir_.file("sim.sock");
		sim_ = std::make_unique<virtio::SimServer>(devvm::default_sim(), sock, dir_.file("sim.log"));
	}
	guest_ = std::make_unique<virtio::RpcGuest>(opt.guest);
	virtio::BackendOptions bo;
	bo.qemu = devvm::default_qemu();
	// Without a simulator the device still exists; it answers NO_DEVICE.
	bo.sim_socket = opt.with_sim ? sock : dir_.file("no-sim.sock");
	bo.with_rng = opt.with_rng;
	bo.extra_device_args = opt.extra_device_args;
	bo.extra_args = opt.extra_args;
	bo.log = dir_.file("qemu.log");
	backend_ = std::make_unique<virtio::Backend>(*guest_, bo);
	try {
		guest_->start(20s);
	} catch (const std::exception &e) {
		dir_.keep();
		throw virtio::Error(std::string(e.what()) + "\nbackend log:\n" +
				    backend_->process().log_tail());
	}
}

BackendRig::~BackendRig()
{
	if (backend_) {
		const auto st = backend_->shutdown(5s);
		if (st && *st != 0)
			std::fprintf(stderr, "backend exit status %d; log:\n%s\n", *st,
				     backend_->process().log_tail(2000).c_str());
	}
}

unsigned BackendRig::sst_index() const
{
	auto i = guest_->find_device(virtio::pci::kVirtioVendor, VIRTIO_SST_PCI_DEVICE_ID);
	if (!i)
		throw virtio::Error("backend registered no virtio-sst-pci device");
	return *i;
}

std::optional<unsigned> BackendRig::rng_index() const
{
	if (auto i = guest_->find_device(virtio::pci::kVirtioVendor, 0x1005))
		return i; // transitional
	return guest_->find_device(virtio::pci::kVirtioVendor, virtio::pci::kModernDeviceBase + 4);
}

BackendRig::Sst BackendRig::open_sst(virtio::VirtioPciTransport::Options topt,
				     virtio::SstDriver::Options dopt)
{
	Sst s;
	s.pci = std::make_unique<virtio::RpcVirtioPci>(*guest_, sst_index(), topt);
	s.driver = std::make_unique<virtio::SstDriver>(*s.pci->transport, guest_->memory(), dopt);
	return s;
}

BackendRig::Rng BackendRig::open_rng()
{
	auto idx = rng_index();
	if (!idx)
		throw virtio::Error("backend registered no virtio-rng-pci device");
	Rng r;
	r.pci = std::make_unique<virtio::RpcVirtioPci>(*guest_, *idx);
	r.driver = std::make_unique<virtio::RngDriver>(*r.pci->transport, guest_->memory());
	return r;
}

SSTRequest make_request(uint32_t type)
{
	SSTRequest r{};
	r.type = type;
	return r;
}

SSTRequest make_write(uint64_t addr, const std::vector<uint8_t> &data)
{
	if (data.size() > SST_MAX_WRITE_SIZE)
		throw virtio::Error("make_write: " + std::to_string(data.size()) +
				    " bytes exceed SST_MAX_WRITE_SIZE");
	SSTRequest r = make_request(SST_REQ_WRITE);
	r.payload.memory.addr = addr;
	r.payload.memory.size = static_cast<uint32_t>(data.size());
	std::memcpy(r.payload.data + SST_WRITE_DATA_OFFSET, data.data(), data.size());
	return r;
}

SSTRequest make_read(uint64_t addr, uint32_t size)
{
	SSTRequest r = make_request(SST_REQ_READ);
	r.payload.memory.addr = addr;
	r.payload.memory.size = size;
	return r;
}

} // namespace vsst::test
