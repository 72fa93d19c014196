// SPDX-License-Identifier: Apache-2.0
// vsst-record-driver: records a golden trace from a real device VM, with
// this process playing the guest through the host-side virtio driver
// (guest-driver/lib) over the RPC channel. The recorder sits on the proxy
// end of the channel (every message), maps guest RAM for the virtio tap, and
// relays the simulator socket.
//
//   vsst-record-driver --scenario sst|rng|blk --out FILE [--qemu PATH] [--sim-bin PATH]
//                      [--image PATH] [--make-image PATH] [--log-dir DIR]
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "vsst/devvm/binaries.h"
#include "vsst/devvm/device_vm.h"
#include "vsst/posix/child_process.h"
#include "vsst/posix/unix_socket.h"
#include "vsst/sst-protocol.h"
#include "vsst/trace.h"
#include "vsst/virtio/backend.h"
#include "vsst/virtio/blk_driver.h"
#include "vsst/virtio/error.h"
#include "vsst/virtio/pci.h"
#include "vsst/virtio/rng_driver.h"
#include "vsst/virtio/spec.h"
#include "vsst/virtio/sst_driver.h"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace vv = vsst::virtio;

namespace {

struct Opts {
	std::string scenario, out, qemu, sim_bin, image, make_image, log_dir;
	std::string device_trace; // also record in the device VM (-accel rpc,trace=...)
	unsigned repeat = 1;      // run the scenario's cases this many times (bigger traces for measurements)
};

// Deterministic disk content: each 512-byte sector starts with a line naming
// it, then a byte pattern derived from the sector number.
int make_image(const std::string &path, unsigned sectors)
{
	std::vector<uint8_t> img(static_cast<size_t>(sectors) * 512);
	for (unsigned s = 0; s < sectors; s++) {
		uint8_t *p = &img[static_cast<size_t>(s) * 512];
		const int n =
			std::snprintf(reinterpret_cast<char *>(p), 64, "vsst golden disk, sector %u\n", s);
		for (unsigned i = static_cast<unsigned>(n); i < 512; i++)
			p[i] = static_cast<uint8_t>((s * 131 + i * 7) & 0xff);
	}
	std::ofstream f(path, std::ios::binary | std::ios::trunc);
	f.write(reinterpret_cast<const char *>(img.data()), static_cast<std::streamsize>(img.size()));
	return f ? 0 : 1;
}

std::string substitute(std::string a, const std::string &sim, const std::string &image)
{
	for (auto [key, val] :
	     {std::pair<std::string, std::string>{"{sim}", sim}, {"{image:blk-disk.img}", image}}) {
		for (size_t at; (at = a.find(key)) != std::string::npos;)
			a.replace(at, key.size(), val);
	}
	return a;
}

SSTRequest request(uint32_t type)
{
	SSTRequest r{};
	r.type = type;
	r.user_data = 0x5eed0000u + type;
	return r;
}

void expect(bool ok, const std::string &what)
{
	if (!ok)
		throw vv::Error("scenario check failed: " + what);
}

// After a completion: give the device's interrupt for it a moment to
// arrive (a polling driver can outrun it, and a proxy-side trace has only
// the events its driver drained: a replay that gets an interrupt the trace
// never has fails), then sync the tap before the driver reuses its buffers.
void settle(vv::RpcGuest &guest, vsst_trace *tr)
{
	guest.pump(std::chrono::milliseconds(20));
	vsst_trace_sync(tr);
}

// sst-test's cases, one request at a time; after each completion the trace
// is synced before the driver reuses the response buffer.
void run_sst(vv::RpcGuest &guest, vsst_trace *tr, unsigned repeat)
{
	const auto idx = guest.find_device(vv::pci::kVirtioVendor, VIRTIO_SST_PCI_DEVICE_ID);
	expect(idx.has_value(), "virtio-sst registered");
	vv::RpcVirtioPci pci(guest, *idx);
	vv::SstDriver sst(*pci.transport, guest.memory(), vv::SstDriver::Options{64, 8, 4});
	auto call = [&](const SSTRequest &r, size_t len, uint32_t want_status) {
		const vv::SstResult res = sst.call(r, 5s, len);
		settle(guest, tr);
		expect(res.valid && res.status() == want_status,
		       "request type " + std::to_string(r.type) + " status " + std::to_string(res.status()));
		return res;
	};
	for (unsigned round = 0; round < repeat; round++) {
		call(request(SST_REQ_NOOP), SST_REQUEST_HEADER_SIZE, SST_STATUS_OK);
		for (size_t n : {16u, 200u, 4000u}) {
			SSTRequest e = request(SST_REQ_ECHO);
			for (size_t i = 0; i < n; i++)
				e.payload.data[i] = static_cast<uint8_t>('A' + (i % 26));
			const vv::SstResult r = call(e, SST_REQUEST_HEADER_SIZE + n, SST_STATUS_OK);
			expect(r.resp.result == n && std::memcmp(r.resp.payload.data, e.payload.data, n) == 0,
			       "echo");
		}
		call(request(SST_REQ_GET_INFO), SST_REQUEST_HEADER_SIZE, SST_STATUS_OK);
		SSTRequest c = request(SST_REQ_COMPUTE);
		c.payload.compute.compute_units = 1000;
		c.payload.compute.latency_model = SST_LATENCY_DEFAULT;
		call(c, sizeof c, SST_STATUS_OK);
		SSTRequest w = request(SST_REQ_WRITE);
		w.payload.memory.addr = 0x1000;
		w.payload.memory.size = 64;
		for (unsigned i = 0; i < 64; i++)
			w.payload.data[SST_WRITE_DATA_OFFSET + i] = static_cast<uint8_t>(i * 3);
		call(w, sizeof w, SST_STATUS_OK);
		SSTRequest rd = request(SST_REQ_READ);
		rd.payload.memory.addr = 0x1000;
		rd.payload.memory.size = 64;
		call(rd, sizeof rd, SST_STATUS_OK);
		call(request(SST_REQ_RESET), SST_REQUEST_HEADER_SIZE, SST_STATUS_OK);
		call(request(99), SST_REQUEST_HEADER_SIZE, SST_STATUS_INVALID);
	}
}

void run_rng(vv::RpcGuest &guest, vsst_trace *tr)
{
	auto idx = guest.find_device(vv::pci::kVirtioVendor, 0x1005);
	if (!idx)
		idx = guest.find_device(vv::pci::kVirtioVendor, vv::pci::kModernDeviceBase + 4);
	expect(idx.has_value(), "virtio-rng registered");
	vv::RpcVirtioPci pci(guest, *idx);
	vv::RngDriver rng(*pci.transport, guest.memory(), vv::RngDriver::Options{8, 256});
	for (size_t n : {16u, 256u, 600u}) {
		expect(rng.read(n, 5s).size() == n, "rng bytes");
		settle(guest, tr);
	}
}

void run_blk(vv::RpcGuest &guest, vsst_trace *tr)
{
	auto idx = guest.find_device(vv::pci::kVirtioVendor, 0x1001);
	if (!idx)
		idx = guest.find_device(vv::pci::kVirtioVendor, vv::pci::kModernDeviceBase + 2);
	expect(idx.has_value(), "virtio-blk registered");
	vv::RpcVirtioPci pci(guest, *idx);
	vv::BlkDriver blk(*pci.transport, guest.memory(), 16);
	const uint64_t cap = blk.capacity_sectors();
	expect(cap >= 16, "disk capacity");
	for (auto [sector, count] : {std::pair<uint64_t, uint32_t>{0, 1}, {1, 8}, {cap - 1, 1}}) {
		const std::vector<uint8_t> d = blk.read(sector, count, 5s);
		settle(guest, tr);
		char want[64];
		std::snprintf(want, sizeof want, "vsst golden disk, sector %llu\n",
			      (unsigned long long)sector);
		expect(d.size() == count * 512u && std::memcmp(d.data(), want, std::strlen(want)) == 0,
		       "disk content");
	}
}

int usage()
{
	std::fprintf(
		stderr,
		"usage: vsst-record-driver --scenario sst|rng|blk --out FILE [--qemu PATH] [--sim-bin PATH]\n"
		"                          [--image PATH] [--log-dir DIR] [--repeat N]\n"
		"                          [--device-trace FILE]\n"
		"       vsst-record-driver --make-image PATH\n");
	return 2;
}

} // namespace

int main(int argc, char **argv)
{
	spdlog::set_pattern("vsst-record-driver: %l: %v");
	Opts o;
	o.qemu = vsst::devvm::default_qemu();
	o.sim_bin = vsst::devvm::default_sim();
	for (int i = 1; i < argc; i++) {
		const std::string a = argv[i];
		auto val = [&]() -> std::string {
			if (i + 1 >= argc)
				std::exit(usage());
			return argv[++i];
		};
		if (a == "--scenario")
			o.scenario = val();
		else if (a == "--out")
			o.out = val();
		else if (a == "--qemu")
			o.qemu = val();
		else if (a == "--sim-bin")
			o.sim_bin = val();
		else if (a == "--image")
			o.image = val();
		else if (a == "--make-image")
			o.make_image = val();
		else if (a == "--log-dir")
			o.log_dir = val();
		else if (a == "--device-trace")
			o.device_trace = val();
		else if (a == "--repeat")
			o.repeat =
				static_cast<unsigned>(std::max(1l, std::strtol(val().c_str(), nullptr, 10)));
		else
			return usage();
	}
	if (!o.make_image.empty())
		return make_image(o.make_image, 64);
	if (o.out.empty() || (o.scenario != "sst" && o.scenario != "rng" && o.scenario != "blk"))
		return usage();
	if (o.scenario == "blk" && o.image.empty()) {
		spdlog::error("--scenario blk needs --image (make one with --make-image)");
		return 2;
	}
	try {
		vv::TempDir dir("vsst-record");
		const std::string logs = o.log_dir.empty() ? dir.path().string() : o.log_dir;
		std::vector<std::string> tmpl;
		uint32_t sim_proto = VSST_TRACE_SIM_NONE;
		if (o.scenario == "sst") {
			tmpl = {"-device", "virtio-sst-pci,socket={sim}"};
			sim_proto = VSST_TRACE_SIM_FRAMED;
		} else if (o.scenario == "rng") {
			tmpl = {"-device", "virtio-rng-pci"};
		} else {
			tmpl = {"-drive", "file={image:blk-disk.img},if=none,id=blk0,format=raw,readonly=on",
				"-device", "virtio-blk-pci,drive=blk0"};
		}
		// The simulator (sst scenario): sst-sim behind the recorder's relay.
		vsst::ChildProcess sim;
		const std::string sim_sock = dir.file("sim.sock"), relay_sock = dir.file("relay.sock");
		if (o.scenario == "sst") {
			vsst::SpawnSpec spec;
			spec.name = "sst-sim";
			spec.argv = {o.sim_bin, "--socket", sim_sock, "--status-interval", "0"};
			spec.log_path = logs + "/sst-sim.log";
			std::string err;
			if (!sim.spawn(spec, err) || !vsst::wait_for_socket(sim_sock, 10s, &sim))
				throw vv::Error("sst-sim did not start: " + err + sim.log_tail(500));
		}
		vv::RpcGuest guest;
		std::vector<const char *> targs;
		for (const std::string &s : tmpl)
			targs.push_back(s.c_str());
		const std::string note = "re-record: trace/tests/golden/record.sh " + o.scenario +
					 " (vsst-record-driver --scenario " + o.scenario +
					 "; host-side driver through the real device VM)";
		vsst_trace_image image{"blk-disk.img", o.image.c_str()};
		vsst_trace_config cfg{};
		const std::string origin = "host-driver:" + o.scenario;
		cfg.origin = origin.c_str();
		cfg.side = VSST_TRACE_SIDE_PROXY;
		cfg.ram = &guest.ram_layout();
		cfg.qemu_args = targs.data();
		cfg.n_qemu_args = static_cast<unsigned>(targs.size());
		cfg.images = o.scenario == "blk" ? &image : nullptr;
		cfg.n_images = o.scenario == "blk" ? 1 : 0;
		cfg.sim_protocol = sim_proto;
		cfg.note = note.c_str();
		char err[256] = "";
		vsst_trace *tr = vsst_trace_open(o.out.c_str(), &cfg, err, sizeof err);
		if (!tr)
			throw vv::Error(std::string("opening the trace: ") + err);
		if (o.scenario == "sst" &&
		    vsst_trace_sim_relay_start(tr, relay_sock.c_str(), sim_sock.c_str()) < 0)
			throw vv::Error("starting the simulator relay failed");
		vsst_trace_observe(tr, guest.channel());

		// The device VM (devvm/), started the way a replay starts it.
		vsst::devvm::DeviceVmSpec spec;
		spec.command.qemu = o.qemu;
		spec.command.handoff = vsst::devvm::Handoff::InheritFds;
		spec.command.sandbox = false;
		spec.log_path = logs + "/device-vm.log";
		if (!o.device_trace.empty()) {
			// The device VM records too: same template, its own end of the channel.
			const std::string args_file = dir.file("trace-args");
			std::ofstream af(args_file);
			for (const std::string &s : tmpl)
				af << s << "\n";
			if (o.scenario == "blk")
				af << "image=blk-disk.img=" << fs::absolute(o.image).string() << "\n";
			af.close();
			spec.command.accel_options = {"trace=" + fs::absolute(o.device_trace).string(),
						      "trace-args=" + args_file};
		}
		for (const std::string &s : tmpl)
			spec.command.args.push_back(substitute(
				s, relay_sock, o.image.empty() ? "" : fs::absolute(o.image).string()));
		const vsst_ram_layout &l = guest.ram_layout();
		std::vector<vsst::devvm::RamRegion> layout;
		for (uint32_t i = 0; i < l.count; i++)
			layout.push_back({l.region[i].gpa, l.region[i].size, l.region[i].fd_offset});
		vsst::devvm::DeviceVm device_vm;
		vsst::ChildProcess &qemu = device_vm.process();
		std::string why;
		if (!device_vm.start(spec, guest.channel_fds(), guest.ram_fd(), layout, why))
			throw vv::Error("starting the device VM: " + why);
		int rc = 0;
		try {
			guest.start(20s);
			if (o.scenario == "sst")
				run_sst(guest, tr, o.repeat);
			else if (o.scenario == "rng")
				run_rng(guest, tr);
			else
				run_blk(guest, tr);
		} catch (const std::exception &e) {
			spdlog::error("{}\ndevice VM log:\n{}", e.what(), qemu.log_tail());
			rc = 1;
		}
		guest.stop();
		const auto exit = qemu.wait(5s);
		const std::optional<int> st = exit ? std::optional<int>(exit->code()) : std::nullopt;
		vsst_rpc_set_observer(guest.channel(), nullptr, nullptr);
		vsst_trace_stats ts{};
		vsst_trace_get_stats(tr, &ts);
		const int cr = vsst_trace_close(tr);
		if (cr < 0) {
			spdlog::error("writing {}: {}", o.out, std::strerror(-cr));
			rc = 1;
		}
		if (!st || *st != 0) {
			spdlog::error("device VM exit status {}",
				      st ? std::to_string(*st) : "none (still running)");
			rc = 1;
		}
		if (ts.dropped_records || ts.tap_anomalies) {
			spdlog::error("{} records dropped, {} tap anomalies", ts.dropped_records,
				      ts.tap_anomalies);
			rc = 1;
		}
		std::error_code ec;
		spdlog::info("{}: {} bytes", o.out, fs::file_size(o.out, ec));
		return rc;
	} catch (const std::exception &e) {
		spdlog::error("{}", e.what());
		return 1;
	}
}
