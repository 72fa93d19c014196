// SPDX-License-Identifier: Apache-2.0
// vsst-bench-tap: how long one doorbell keeps the recorder's virtio tap busy,
// i.e. holds the lock the device VM's main loop also takes (trace/TRACE.md).
// An honest request (one chain, 4 KiB to read) is the baseline; a hostile
// guest's doorbell (8 chains, each naming 16 MiB of readable buffers) is
// measured with the default limits (copying capped at 32 MiB per call) and
// with the limits lifted, as the tap was before it had them. Compare the
// three in one run: `./vsst bench tap`.
#include <benchmark/benchmark.h>

#include <memory>

#include "../tests/tap_rig.hpp"

namespace {

using namespace vsst::trace;
using namespace vsst::trace::testing;

// Fills the descriptor table: head h -> an indirect table of n descriptors of
// len readable bytes each, made available as entries 0..heads-1.
void publish(Rig &r, unsigned heads, unsigned n, uint32_t len, uint16_t pos)
{
	for (unsigned h = 0; h < heads; h++) {
		const uint64_t table = 0x200000 + 0x10000ull * h;
		indirect_chain(r, table, n, len, false);
		r.desc(kDesc, h, table, 16 * n, 4, 0);
		r.avail(static_cast<uint16_t>(h), static_cast<uint16_t>(pos + h));
	}
}

void doorbells(benchmark::State &state, TapLimits limits, uint64_t writer_budget, unsigned heads, unsigned n,
	       uint32_t len)
{
	Rig r(limits, writer_budget);
	uint16_t pos = 0;
	for (auto _ : state) {
		state.PauseTiming();
		publish(r, heads, n, len, pos);
		pos = static_cast<uint16_t>(pos + heads);
		// Answer them so the tap remembers nothing between iterations.
		state.ResumeTiming();
		r.doorbell();
		state.PauseTiming();
		for (unsigned h = 0; h < heads; h++)
			r.tap.device_used(0, 0, static_cast<uint16_t>(pos - heads + h), h, 0);
		state.ResumeTiming();
	}
	state.counters["copied_MiB"] = static_cast<double>(r.tap.max_call_bytes()) / (1 << 20);
	state.counters["dropped"] = static_cast<double>(r.w.stats().dropped_records);
}

void BM_HonestRequest4KiB(benchmark::State &state)
{
	doorbells(state, {}, 64u << 20, 1, 1, 4096);
}

void BM_HostileDoorbellCapped(benchmark::State &state)
{
	doorbells(state, {}, 64u << 20, 8, 4096, 4096); // 8 x 16 MiB named
}

void BM_HostileDoorbellUnbounded(benchmark::State &state)
{
	TapLimits none;
	none.inflight_bytes = none.chain_out_bytes = none.call_bytes = ~0ull;
	doorbells(state, none, 1ull << 40, 8, 4096, 4096);
}

BENCHMARK(BM_HonestRequest4KiB)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_HostileDoorbellCapped)->Unit(benchmark::kMillisecond)->Iterations(20);
BENCHMARK(BM_HostileDoorbellUnbounded)->Unit(benchmark::kMillisecond)->Iterations(5);

} // namespace

BENCHMARK_MAIN();
