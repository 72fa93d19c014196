// SPDX-License-Identifier: Apache-2.0
// Throughput of the device core through its C API, the way the QEMU glue
// drives it (submit, wait on notify_fd, reap on the same thread):
//   - local requests (NOOP) answered by the engine,
//   - COMPUTE through the framed protocol to the in-test simulator at a
//     given queue depth,
//   - COMPUTE through `acalsim` (one at a time by design).
// The in-test simulator is a simple thread, so the simulator-bound figures
// are a floor for the client, not the simulator's own speed.
#include <benchmark/benchmark.h>
#include <poll.h>

#include <cstring>

#include "fake_sim.h"
#include "vsst/sst_device.h"

namespace {

using vsst::test::FakeSim;

struct Counter {
	uint64_t done = 0;
	static void on_done(void *o, uint64_t, const SSTResponse *) { static_cast<Counter *>(o)->done++; }
};

vsst_dev *make_dev(const char *path, uint32_t proto)
{
	vsst_dev_config cfg{};
	cfg.socket_path = path;
	cfg.protocol = proto;
	cfg.max_inflight = 4096;
	cfg.reconnect_max_ms = 20;
	char err[128];
	return vsst_dev_new(&cfg, err, sizeof(err));
}

bool wait_ready(vsst_dev *dev)
{
	for (int i = 0; i < 5000; i++) {
		vsst_dev_stats s{};
		vsst_dev_get_stats(dev, &s);
		if (s.connected)
			return true;
		usleep(1000);
	}
	return false;
}

// Keeps `depth` requests outstanding; one iteration = one completed request.
void drive(benchmark::State &state, vsst_dev *dev, const SSTRequest &req, int depth)
{
	Counter c;
	uint64_t submitted = 0;
	const int fd = vsst_dev_notify_fd(dev);
	for (auto _ : state) {
		while (submitted - c.done < static_cast<uint64_t>(depth))
			if (vsst_dev_submit(dev, &req, sizeof(req), submitted) == 0)
				submitted++;
			else
				break;
		const uint64_t before = c.done;
		while (c.done == before) {
			pollfd p{fd, POLLIN, 0};
			::poll(&p, 1, 1000);
			vsst_dev_reap(dev, &Counter::on_done, nullptr, &c);
		}
	}
	// Drain what is still outstanding so the device is idle for the next run.
	while (c.done < submitted) {
		pollfd p{fd, POLLIN, 0};
		::poll(&p, 1, 1000);
		vsst_dev_reap(dev, &Counter::on_done, nullptr, &c);
	}
	state.SetItemsProcessed(static_cast<int64_t>(c.done));
}

SSTRequest request(uint32_t type)
{
	SSTRequest r;
	std::memset(&r, 0, sizeof(r));
	r.type = type;
	r.request_id = 1;
	r.payload.compute.compute_units = 4;
	return r;
}

void BM_LocalNoop(benchmark::State &state)
{
	vsst_dev *dev = make_dev(nullptr, VSST_DEV_PROTO_FRAMED);
	drive(state, dev, request(SST_REQ_NOOP), static_cast<int>(state.range(0)));
	vsst_dev_free(dev);
}
BENCHMARK(BM_LocalNoop)->Arg(1)->Arg(64)->UseRealTime();

void BM_FramedCompute(benchmark::State &state)
{
	FakeSim sim(FakeSim::Proto::framed);
	sim.start();
	vsst_dev *dev = make_dev(sim.path().c_str(), VSST_DEV_PROTO_FRAMED);
	if (!wait_ready(dev)) {
		state.SkipWithError("simulator link did not come up");
	} else {
		drive(state, dev, request(SST_REQ_COMPUTE), static_cast<int>(state.range(0)));
	}
	vsst_dev_free(dev);
}
BENCHMARK(BM_FramedCompute)->Arg(1)->Arg(16)->Arg(256)->UseRealTime();

void BM_AcalsimCompute(benchmark::State &state)
{
	FakeSim sim(FakeSim::Proto::acalsim);
	sim.start();
	vsst_dev *dev = make_dev(sim.path().c_str(), VSST_DEV_PROTO_ACALSIM);
	if (!wait_ready(dev)) {
		state.SkipWithError("simulator link did not come up");
	} else {
		drive(state, dev, request(SST_REQ_COMPUTE), static_cast<int>(state.range(0)));
	}
	vsst_dev_free(dev);
}
BENCHMARK(BM_AcalsimCompute)->Arg(1)->Arg(16)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
