// SPDX-License-Identifier: Apache-2.0
// vsst-bench-backend: requests/s through the backend QEMU with the host-side
// virtio driver playing the guest (RPC channel, posted doorbells, MSI-X),
// for NOOP (answered by the device) and 4 KiB WRITE (forwarded to sst-sim),
// at a range of queue depths.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../rig.h"
#include "vsst/virtio/error.h"

using namespace vsst;
using namespace std::chrono_literals;

namespace {

struct Result {
	std::string what;
	unsigned depth;
	double rps;
	double us_per_req;
	double irqs_per_req;
	double doorbells_per_req;
};

Result run(test::BackendRig &rig, virtio::SstDriver &d, const char *name, const SSTRequest &req, size_t len,
	   unsigned depth, std::chrono::milliseconds duration)
{
	auto fill = [&] {
		while (d.in_flight() < depth)
			if (!d.submit(req, len))
				break;
		d.kick();
	};
	uint64_t completed = 0, bad = 0;
	auto pass = [&](std::chrono::milliseconds how_long) {
		const auto end = std::chrono::steady_clock::now() + how_long;
		fill();
		while (std::chrono::steady_clock::now() < end) {
			const size_t n = d.reap([&](const virtio::SstResult &r) {
				if (r.status() != SST_STATUS_OK)
					bad++;
			});
			completed += n;
			if (n)
				fill();
			else if (!d.wait(1000ms))
				throw virtio::TimeoutError("no completion within 1 s");
		}
		// Drain what is still in flight so the next run starts empty.
		const auto drain_end = std::chrono::steady_clock::now() + 10s;
		while (d.in_flight() && std::chrono::steady_clock::now() < drain_end) {
			d.wait(100ms);
			d.reap([](const virtio::SstResult &) {});
		}
	};
	pass(std::chrono::milliseconds(300)); // warm-up
	completed = 0;
	const auto irq0 = d.stats().interrupts;
	const auto c0 = rig.guest().counters();
	const auto t0 = std::chrono::steady_clock::now();
	pass(duration);
	const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	const auto c1 = rig.guest().counters();
	if (bad)
		spdlog::warn("{} depth {}: {} requests did not complete OK", name, depth, bad);
	const double n = completed ? static_cast<double>(completed) : 1.0;
	return Result{name,
		      depth,
		      completed / secs,
		      secs * 1e6 / n * depth,
		      static_cast<double>(d.stats().interrupts - irq0) / n,
		      static_cast<double>((c1.posted_writes - c0.posted_writes) + 0.0) / n};
}

void usage()
{
	std::printf("usage: vsst-bench-backend [--seconds S] [--depths 1,32] [--intx]\n"
		    "Starts sst-sim and the backend QEMU ($VSST_QEMU), drives virtio-sst-pci with the\n"
		    "host-side driver through the RPC channel and prints requests/s of NOOP and\n"
		    "4 KiB WRITE per queue depth. Exit 77 when QEMU or sst-sim is missing.\n");
}

} // namespace

int main(int argc, char **argv)
{
	double seconds = 3.0;
	std::vector<unsigned> depths = {1, 32};
	bool intx = false;
	for (int i = 1; i < argc; i++) {
		const std::string a = argv[i];
		if (a == "--seconds" && i + 1 < argc) {
			seconds = std::atof(argv[++i]);
		} else if (a == "--depths" && i + 1 < argc) {
			depths.clear();
			for (char *tok = std::strtok(argv[++i], ","); tok; tok = std::strtok(nullptr, ","))
				depths.push_back(static_cast<unsigned>(std::atoi(tok)));
		} else if (a == "--intx") {
			intx = true;
		} else if (a == "-h" || a == "--help") {
			usage();
			return 0;
		} else {
			usage();
			return 2;
		}
	}
	if (seconds <= 0 || depths.empty()) {
		usage();
		return 2;
	}
	if (auto rc = test::check_prerequisites())
		return *rc;
	try {
		test::BackendRig rig;
		virtio::VirtioPciTransport::Options topt;
		topt.allow_msix = !intx;
		unsigned max_depth = 1;
		for (unsigned dep : depths)
			max_depth = std::max(max_depth, dep);
		virtio::SstDriver::Options dopt;
		dopt.max_inflight = static_cast<uint16_t>(std::min(max_depth, 128u));
		auto s = rig.open_sst(topt, dopt);
		spdlog::info("backend up: {} devices, interrupts via {}, {} posted doorbell regions",
			     rig.guest().devices().size(), s.pci->transport->interrupt_mode(),
			     rig.guest().posted_regions());
		const SSTRequest noop = test::make_request(SST_REQ_NOOP);
		// The largest WRITE the ABI carries: 4068 data bytes (4 KiB request).
		const SSTRequest write =
			test::make_write(0x1000, std::vector<uint8_t>(SST_MAX_WRITE_SIZE, 0xa5));
		const auto dur = std::chrono::milliseconds(static_cast<long>(seconds * 1000));
		std::vector<Result> results;
		for (unsigned depth : depths) {
			results.push_back(run(rig, *s.driver, "NOOP", noop, sizeof noop, depth, dur));
			results.push_back(
				run(rig, *s.driver, "WRITE 4KiB", write,
				    SST_REQUEST_HEADER_SIZE + SST_WRITE_DATA_OFFSET + SST_MAX_WRITE_SIZE,
				    depth, dur));
		}
		std::printf("%-12s %6s %12s %14s %10s %12s\n", "request", "depth", "requests/s", "latency us",
			    "irq/req", "doorbell/req");
		for (const auto &r : results)
			std::printf("%-12s %6u %12.0f %14.1f %10.2f %12.2f\n", r.what.c_str(), r.depth, r.rps,
				    r.us_per_req, r.irqs_per_req, r.doorbells_per_req);
	} catch (const std::exception &e) {
		spdlog::error("{}", e.what());
		return 1;
	}
	return 0;
}
