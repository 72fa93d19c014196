// SPDX-License-Identifier: Apache-2.0
// Device model: latency arithmetic, contention, memory bounds, CONFIGURE,
// RESET, GET_INFO, events, determinism.
#include <gtest/gtest.h>

#include <random>

#include "sim_test_util.h"
#include "vsst/sim/latency.h"

namespace vsst::sim {
namespace {

using test::call;
using test::compute_req;
using test::config_req;
using test::make_req;
using test::read_req;
using test::response_of;
using test::run_one;
using test::write_req;

constexpr uint64_t kPsPerCycle = 1000; // default 1 GHz

TEST(Latency, FormulasPerModel)
{
	ModelParams p; // L=100 S=20 Bu=8 Lm=100 Bm=16
	EXPECT_EQ(compute_cost(p, SST_LATENCY_FIXED, 10)->unit_cycles, 1000u);
	EXPECT_EQ(compute_cost(p, SST_LATENCY_PIPELINED, 10)->unit_cycles, 20u + 100u + 9u);
	EXPECT_EQ(compute_cost(p, SST_LATENCY_PIPELINED, 1)->unit_cycles, 120u);
	const auto bw = compute_cost(p, SST_LATENCY_BANDWIDTH, 100);
	EXPECT_EQ(bw->unit_cycles, 20u + 100u + 13u); // ceil(100 / min(8, 16)) = 13
	EXPECT_EQ(bw->mem_cycles, 13u);
	EXPECT_EQ(bw->mem_offset, 20u);
	p.unit_bandwidth = 64; // now the memory channel is the bottleneck: ceil(100/16) = 7
	EXPECT_EQ(compute_cost(p, SST_LATENCY_BANDWIDTH, 100)->unit_cycles, 20u + 100u + 7u);
	// Zero work costs nothing in every model.
	for (uint64_t m = 1; m < SST_LATENCY_MAX; ++m)
		EXPECT_EQ(compute_cost(p, m, 0)->unit_cycles, 0u);
	// DEFAULT means the configured model.
	p.latency_model = SST_LATENCY_PIPELINED;
	EXPECT_EQ(compute_cost(p, SST_LATENCY_DEFAULT, 10)->unit_cycles, 129u);
	EXPECT_FALSE(compute_cost(p, SST_LATENCY_MAX, 1));
	EXPECT_FALSE(compute_cost(p, SST_LATENCY_FIXED, kMaxWorkItems + 1));
	EXPECT_EQ(mem_transfer_cycles(p, 4080), 255u);
	EXPECT_EQ(mem_transfer_cycles(p, 1), 1u);
}

TEST(Latency, CycleTimeConversion)
{
	EXPECT_EQ(*cycles_to_ps(1000, 1'000'000'000), 1'000'000u);
	EXPECT_EQ(*cycles_to_ps(1000, 2'000'000'000), 500'000u);
	EXPECT_EQ(*cycles_to_ps(1, 3'000'000'000), 334u); // rounded up
	EXPECT_FALSE(cycles_to_ps(UINT64_MAX, 1'000'000));
	EXPECT_EQ(ps_to_cycles(334, 3'000'000'000), 2u); // 334 ps is a bit more than one cycle
	EXPECT_EQ(ps_to_cycles(333'334, 3'000'000'000), 1001u);
}

TEST(Model, ComputeResponseCarriesCyclesAndTimestamp)
{
	DeviceModel m;
	auto outs = run_one(m, compute_req(10, SST_LATENCY_FIXED, 42), false, 9);
	ASSERT_EQ(outs.size(), 1u);
	const SimOutput &o = outs[0];
	EXPECT_EQ(o.token, 9u);
	EXPECT_EQ(o.cycles, 1000u);
	EXPECT_EQ(o.complete_ps, 1000 * kPsPerCycle);
	const SSTResponse r = response_of(o);
	EXPECT_EQ(r.status, SST_STATUS_OK);
	EXPECT_EQ(r.request_id, 42u);
	EXPECT_EQ(r.user_data, 42u * 7 + 3);
	EXPECT_EQ(r.result, 1000u);
	EXPECT_EQ(r.payload.compute.cycles, 1000u);
	EXPECT_EQ(r.payload.compute.timestamp, 1000 * kPsPerCycle);
	EXPECT_EQ(m.now_ps(), 1000 * kPsPerCycle);
	// The next request arrives at the new simulated time.
	auto next = run_one(m, compute_req(1, SST_LATENCY_PIPELINED, 43));
	EXPECT_EQ(next[0].complete_ps, (1000 + 120) * kPsPerCycle);
	EXPECT_EQ(next[0].cycles, 120u);
}

TEST(Model, ClockChangesTimeNotCycles)
{
	DeviceModel m;
	ASSERT_EQ(call(m, config_req(SST_CFG_CLOCK_HZ, 2'000'000'000)).status, SST_STATUS_OK);
	auto outs = run_one(m, compute_req(10, SST_LATENCY_FIXED));
	EXPECT_EQ(outs[0].cycles, 1000u);
	EXPECT_EQ(outs[0].complete_ps, 500'000u);
}

TEST(Model, ComputeUnitsContend)
{
	DeviceModel m; // 4 units, L = 100
	for (uint64_t i = 0; i < 5; ++i)
		m.submit(i, test::bytes_of(compute_req(1, SST_LATENCY_FIXED, i)), false);
	std::vector<SimOutput> outs;
	while (auto o = m.pop())
		outs.push_back(std::move(*o));
	ASSERT_EQ(outs.size(), 5u);
	for (int i = 0; i < 4; ++i) {
		EXPECT_EQ(outs[i].token, static_cast<uint64_t>(i));
		EXPECT_EQ(outs[i].complete_ps, 100 * kPsPerCycle);
	}
	EXPECT_EQ(outs[4].token, 4u); // queued behind the first free unit
	EXPECT_EQ(outs[4].complete_ps, 200 * kPsPerCycle);
	EXPECT_EQ(outs[4].cycles, 200u); // includes the wait
	EXPECT_EQ(m.stats().unit_busy_ps, 5 * 100 * kPsPerCycle);

	// One unit: everything serialises.
	DeviceModel one;
	ASSERT_EQ(call(one, config_req(SST_CFG_COMPUTE_UNITS, 1)).status, SST_STATUS_OK);
	for (uint64_t i = 0; i < 3; ++i)
		one.submit(i, test::bytes_of(compute_req(2)), false);
	uint64_t expect = 200;
	while (auto o = one.pop()) {
		EXPECT_EQ(o->complete_ps, expect * kPsPerCycle);
		expect += 200;
	}
}

TEST(Model, MemoryChannelContends)
{
	DeviceModel m;                                         // Lm = 100, Bm = 16 B/cycle
	m.submit(1, test::bytes_of(read_req(0, 1600)), false); // transfer 100 cycles
	m.submit(2, test::bytes_of(read_req(4096, 1600)), false);
	auto a = m.pop();
	auto b = m.pop();
	EXPECT_EQ(a->complete_ps, 200 * kPsPerCycle); // latency + transfer
	EXPECT_EQ(b->complete_ps, 300 * kPsPerCycle); // waits for the channel, latency overlaps
	// A bandwidth-bound COMPUTE streams through the same channel.
	DeviceModel n;
	n.submit(1, test::bytes_of(compute_req(1600, SST_LATENCY_BANDWIDTH)),
		 false); // streams 200 cycles from t=20
	n.submit(2, test::bytes_of(read_req(0, 16)), false);
	auto c = n.pop();
	auto d = n.pop();
	// READ starts after the channel frees at 20 + 200 = 220: 220 + 100 + 1.
	EXPECT_EQ(c->token, 1u);
	EXPECT_EQ(c->complete_ps, (20 + 100 + 200) * kPsPerCycle);
	EXPECT_EQ(d->complete_ps, 321 * kPsPerCycle);
}

TEST(Model, ReadWriteRoundTripAndBounds)
{
	DeviceModel m;
	std::vector<uint8_t> data(SST_MAX_WRITE_SIZE);
	for (size_t i = 0; i < data.size(); ++i)
		data[i] = static_cast<uint8_t>(i * 13 + 1);
	const uint64_t end = m.params().mem_size;
	auto w = call(m, write_req(end - data.size(), data));
	EXPECT_EQ(w.status, SST_STATUS_OK);
	EXPECT_EQ(w.result, data.size());
	auto outs = run_one(m, read_req(end - data.size(), static_cast<uint32_t>(data.size())));
	const SSTResponse r = response_of(outs[0]);
	EXPECT_EQ(r.status, SST_STATUS_OK);
	EXPECT_EQ(r.result, data.size());
	EXPECT_EQ(0, std::memcmp(r.payload.data, data.data(), data.size()));
	EXPECT_EQ(outs[0].bytes.size(), SST_RESPONSE_HEADER_SIZE + data.size());
	// Never-written memory reads as zero.
	auto z = call(m, read_req(12345, 100));
	EXPECT_EQ(z.status, SST_STATUS_OK);
	for (int i = 0; i < 100; ++i)
		EXPECT_EQ(z.payload.data[i], 0);

	const auto before_now = m.now_ps();
	const auto before_pages = m.memory().resident_pages();
	struct Case {
		uint32_t type;
		uint64_t addr;
		uint32_t size;
	};
	const Case bad[] = {
		{SST_REQ_READ, end - 1, 2},
		{SST_REQ_READ, end, 1},
		{SST_REQ_READ, 0, 0},
		{SST_REQ_READ, 0, SST_MAX_DATA_SIZE + 1},
		{SST_REQ_READ, UINT64_MAX - 1, 4},
		{SST_REQ_WRITE, end - 10, 11},
		{SST_REQ_WRITE, 0, 0},
		{SST_REQ_WRITE, 0, SST_MAX_WRITE_SIZE + 1},
		{SST_REQ_WRITE, UINT64_MAX - 2, 8},
		{SST_REQ_WRITE, 1ull << 40, 8},
	};
	for (const Case &c : bad) {
		SSTRequest q = make_req(c.type, 77);
		q.payload.memory.addr = c.addr;
		q.payload.memory.size = c.size;
		auto o = run_one(m, q);
		ASSERT_EQ(o.size(), 1u);
		const SSTResponse resp = response_of(o[0]);
		EXPECT_EQ(resp.status, SST_STATUS_INVALID) << c.type << " " << c.addr << " " << c.size;
		EXPECT_EQ(resp.request_id, 77u);
		EXPECT_EQ(o[0].bytes.size(), SST_RESPONSE_HEADER_SIZE);
	}
	EXPECT_EQ(m.now_ps(), before_now); // invalid requests cost no time
	EXPECT_EQ(m.memory().resident_pages(), before_pages);
	auto again = call(m, read_req(end - data.size(), static_cast<uint32_t>(data.size())));
	EXPECT_EQ(0, std::memcmp(again.payload.data, data.data(), data.size()));
	EXPECT_EQ(m.stats().invalid, std::size(bad));
}

TEST(Model, BadRequestsAreInvalidAndChangeNothing)
{
	DeviceModel m;
	const ModelParams before = m.params();
	SSTRequest unknown = make_req(SST_REQ_MAX, 5);
	EXPECT_EQ(call(m, unknown).status, SST_STATUS_INVALID);
	unknown.type = 0xffffffffu;
	EXPECT_EQ(call(m, unknown).status, SST_STATUS_INVALID);
	EXPECT_EQ(call(m, compute_req(1, SST_LATENCY_MAX)).status, SST_STATUS_INVALID);
	EXPECT_EQ(call(m, compute_req(kMaxWorkItems + 1)).status, SST_STATUS_INVALID);
	EXPECT_EQ(call(m, config_req(SST_CFG_MAX, 1)).status, SST_STATUS_INVALID);
	EXPECT_EQ(call(m, config_req(SST_CFG_COMPUTE_UNITS, 0)).status, SST_STATUS_INVALID);
	EXPECT_EQ(call(m, config_req(SST_CFG_COMPUTE_UNITS, 1025)).status, SST_STATUS_INVALID);
	EXPECT_EQ(call(m, config_req(SST_CFG_LATENCY_MODEL, SST_LATENCY_DEFAULT)).status, SST_STATUS_INVALID);
	EXPECT_EQ(call(m, config_req(SST_CFG_MEM_SIZE, 4097)).status, SST_STATUS_INVALID);
	EXPECT_EQ(call(m, config_req(SST_CFG_CLOCK_HZ, 0)).status, SST_STATUS_INVALID);
	EXPECT_EQ(m.params(), before);
	EXPECT_EQ(m.now_ps(), 0u);
	// A request shorter than its header.
	SSTRequest r = make_req(SST_REQ_NOOP);
	m.submit(1, test::bytes_of(r, 10), false);
	EXPECT_EQ(response_of(*m.pop()).status, SST_STATUS_INVALID);
	// A huge COMPUTE that would overflow simulated time.
	ASSERT_EQ(call(m, config_req(SST_CFG_CLOCK_HZ, 1'000'000)).status, SST_STATUS_OK);
	ASSERT_EQ(call(m, config_req(SST_CFG_UNIT_LATENCY_CYCLES, 1'000'000)).status, SST_STATUS_OK);
	EXPECT_EQ(call(m, compute_req(kMaxWorkItems)).status, SST_STATUS_INVALID);
	EXPECT_EQ(m.now_ps(), 0u);
}

TEST(Model, ConfigureTableAndGetInfo)
{
	DeviceModel m;
	auto info = call(m, make_req(SST_REQ_GET_INFO));
	EXPECT_EQ(info.status, SST_STATUS_OK);
	EXPECT_EQ(info.payload.info.version, SST_PROTOCOL_VERSION);
	EXPECT_EQ(info.payload.info.max_compute_units, 4u);
	EXPECT_EQ(info.payload.info.memory_size, 256 * kMiB);
	const uint32_t caps = info.payload.info.capabilities;
	EXPECT_TRUE(caps & (1u << SST_FEATURE_COMPUTE));
	EXPECT_TRUE(caps & (1u << SST_FEATURE_MEMORY));
	EXPECT_FALSE(caps & (1u << SST_FEATURE_EVENTS)); // this peer takes no events
	auto with_events = run_one(m, make_req(SST_REQ_GET_INFO), true);
	EXPECT_TRUE(response_of(with_events[0]).payload.info.capabilities & (1u << SST_FEATURE_EVENTS));

	const std::pair<uint32_t, uint64_t> sets[] = {{SST_CFG_CLOCK_HZ, 2'000'000'000},
						      {SST_CFG_COMPUTE_UNITS, 16},
						      {SST_CFG_LATENCY_MODEL, SST_LATENCY_PIPELINED},
						      {SST_CFG_UNIT_LATENCY_CYCLES, 7},
						      {SST_CFG_PIPELINE_STARTUP_CYCLES, 3},
						      {SST_CFG_UNIT_BANDWIDTH, 32},
						      {SST_CFG_MEM_LATENCY_CYCLES, 9},
						      {SST_CFG_MEM_BANDWIDTH, 64},
						      {SST_CFG_MEM_SIZE, 64 * kMiB}};
	for (auto [id, v] : sets) {
		auto r = call(m, config_req(id, v));
		EXPECT_EQ(r.status, SST_STATUS_OK) << id;
		EXPECT_EQ(r.result, v);
		EXPECT_EQ(get_param(m.params(), id), v);
	}
	info = call(m, make_req(SST_REQ_GET_INFO));
	EXPECT_EQ(info.payload.info.max_compute_units, 16u);
	EXPECT_EQ(info.payload.info.memory_size, 64 * kMiB);
	// Shrinking the memory makes the cut-off range invalid.
	EXPECT_EQ(call(m, read_req(64 * kMiB, 4)).status, SST_STATUS_INVALID);
}

TEST(Model, ResetIsABarrierAndClearsState)
{
	DeviceModel m;
	const uint8_t pattern[4] = {1, 2, 3, 4};
	ASSERT_EQ(call(m, write_req(100, pattern)).status, SST_STATUS_OK);
	ASSERT_EQ(call(m, config_req(SST_CFG_COMPUTE_UNITS, 2)).status, SST_STATUS_OK);
	const uint64_t t0 = m.now_ps();
	m.submit(1, test::bytes_of(compute_req(50)), false); // busy until t0 + 5000 cycles
	m.submit(2, test::bytes_of(make_req(SST_REQ_RESET, 2)), false);
	auto a = m.pop();
	auto b = m.pop();
	EXPECT_EQ(a->token, 1u);
	EXPECT_EQ(b->token, 2u);
	EXPECT_EQ(b->complete_ps, t0 + 5000 * kPsPerCycle);
	EXPECT_EQ(response_of(*b).status, SST_STATUS_OK);
	EXPECT_EQ(m.params(), ModelParams{});
	EXPECT_EQ(m.memory().resident_pages(), 0u);
	auto r = call(m, read_req(100, 4));
	EXPECT_EQ(r.payload.data[0], 0);
}

TEST(Model, AsyncComputeCompletesWithAnEvent)
{
	DeviceModel m;
	auto outs = run_one(m, compute_req(10, SST_LATENCY_FIXED, 99, SST_REQ_FLAG_ASYNC), true);
	ASSERT_EQ(outs.size(), 2u);
	EXPECT_EQ(outs[0].kind, SimOutput::Kind::kResponse);
	EXPECT_EQ(outs[0].complete_ps, 0u);
	EXPECT_EQ(outs[0].cycles, 0u);
	const SSTResponse r = response_of(outs[0]);
	EXPECT_EQ(r.status, SST_STATUS_OK);
	EXPECT_EQ(r.result, 1000u); // the cycles the work will take
	ASSERT_EQ(outs[1].kind, SimOutput::Kind::kEvent);
	ASSERT_EQ(outs[1].bytes.size(), sizeof(SSTEvent));
	SSTEvent ev;
	std::memcpy(&ev, outs[1].bytes.data(), sizeof ev);
	EXPECT_EQ(ev.type, static_cast<uint32_t>(SST_EVENT_COMPLETION));
	EXPECT_EQ(ev.data, 99u);
	EXPECT_EQ(ev.timestamp, 1000 * kPsPerCycle);
	// Without events the flag is ignored: one synchronous response.
	DeviceModel s;
	auto sync = run_one(s, compute_req(10, SST_LATENCY_FIXED, 99, SST_REQ_FLAG_ASYNC), false);
	ASSERT_EQ(sync.size(), 1u);
	EXPECT_EQ(sync[0].complete_ps, 1000 * kPsPerCycle);
}

TEST(Model, EchoNoopAndUnusedTailTrimmed)
{
	DeviceModel m;
	SSTRequest e = make_req(SST_REQ_ECHO);
	std::memcpy(e.payload.data, "hello", 5);
	m.submit(1, test::bytes_of(e, SST_REQUEST_HEADER_SIZE + 5), false);
	auto o = m.pop();
	EXPECT_EQ(o->bytes.size(), SST_RESPONSE_HEADER_SIZE + 5);
	EXPECT_EQ(0, std::memcmp(response_of(*o).payload.data, "hello", 5));
	auto n = run_one(m, make_req(SST_REQ_NOOP));
	EXPECT_EQ(response_of(n[0]).status, SST_STATUS_OK);
	EXPECT_EQ(n[0].bytes.size(), SST_RESPONSE_HEADER_SIZE + 16);
}

// A recorded request sequence (every type, valid and invalid, batches of
// varying size) replayed through two fresh models gives identical bytes.
std::vector<uint8_t> replay(uint32_t seed)
{
	std::mt19937_64 rng(seed);
	DeviceModel m;
	std::vector<uint8_t> log;
	auto put = [&log](const void *p, size_t n) {
		log.insert(log.end(), static_cast<const uint8_t *>(p), static_cast<const uint8_t *>(p) + n);
	};
	uint64_t id = 0;
	for (int batch = 0; batch < 200; ++batch) {
		const int n = 1 + static_cast<int>(rng() % 16);
		for (int i = 0; i < n; ++i) {
			++id;
			SSTRequest r{};
			switch (rng() % 9) {
			case 0:
				r = compute_req(rng() % 64, static_cast<uint32_t>(rng() % 4), id,
						(rng() & 1) ? SST_REQ_FLAG_ASYNC : 0);
				break;
			case 1:
				r = read_req(rng() % (1 << 20), static_cast<uint32_t>(rng() % 4100), id);
				break;
			case 2: {
				std::vector<uint8_t> d(rng() % 200);
				for (auto &b : d)
					b = static_cast<uint8_t>(rng());
				r = write_req(rng() % (1 << 20), d, id);
				break;
			}
			case 3:
				r = config_req(static_cast<uint32_t>(rng() % 10), 1 + rng() % 8, id);
				break;
			case 4:
				r = make_req(SST_REQ_GET_INFO, id);
				break;
			case 5:
				r = make_req(static_cast<uint32_t>(rng() % 12), id);
				break;
			case 6:
				r = make_req(SST_REQ_RESET, id);
				break;
			default:
				r = compute_req(1 + rng() % 8, SST_LATENCY_BANDWIDTH, id);
				break;
			}
			m.submit(id, test::bytes_of(r), (batch & 1) != 0);
		}
		while (auto o = m.pop()) {
			put(&o->token, sizeof o->token);
			put(&o->complete_ps, sizeof o->complete_ps);
			put(&o->cycles, sizeof o->cycles);
			put(o->bytes.data(), o->bytes.size());
		}
	}
	return log;
}

TEST(Model, DeterministicReplay)
{
	const auto a = replay(1234);
	const auto b = replay(1234);
	ASSERT_GT(a.size(), 10000u);
	EXPECT_EQ(a, b);
	EXPECT_NE(a, replay(4321)); // the check can fail: different input, different bytes
}

TEST(SparseMemory, PagesAndResize)
{
	SparseMemory mem(3 * 4096);
	const uint8_t ones[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
	ASSERT_TRUE(mem.write(4096 - 5, ones, 10)); // straddles two pages
	EXPECT_EQ(mem.resident_pages(), 2u);
	EXPECT_FALSE(mem.write(3 * 4096 - 5, ones, 10));
	EXPECT_EQ(mem.resident_pages(), 2u);
	mem.resize(4096 + 2);
	uint8_t out[10];
	EXPECT_FALSE(mem.read(4096 - 5, out, 10));
	ASSERT_TRUE(mem.read(4096 - 5, out, 7));
	for (int i = 0; i < 7; ++i)
		EXPECT_EQ(out[i], 1);
	mem.resize(3 * 4096); // growing again must not resurrect the cut bytes
	ASSERT_TRUE(mem.read(4096 - 5, out, 10));
	EXPECT_EQ(out[7], 0);
	EXPECT_EQ(out[8], 0);
}

// The budget counts committed pages across memories: a write needing a page
// beyond it fails whole, and every way a page goes away gives it back.
TEST(SparseMemory, BudgetBoundsCommittedPages)
{
	MemoryBudget budget(3 * 4096);
	const uint8_t ones[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
	{
		SparseMemory a(1ull << 32, &budget); // 4 GiB declared, nothing committed
		SparseMemory b(1ull << 32, &budget);
		EXPECT_EQ(budget.used(), 0u);
		ASSERT_TRUE(a.write(4096 - 5, ones, 10)); // two pages
		EXPECT_EQ(budget.used(), 2 * 4096u);
		EXPECT_TRUE(a.write(0, ones, 10)); // page already there: free
		// b needs two new pages where one is left: refused, nothing written.
		EXPECT_FALSE(b.write(8192 - 5, ones, 10));
		EXPECT_EQ(b.resident_pages(), 0u);
		EXPECT_EQ(budget.used(), 2 * 4096u);
		ASSERT_TRUE(b.write(100, ones, 10));
		EXPECT_EQ(budget.used(), 3 * 4096u);
		EXPECT_FALSE(a.write(1ull << 31, ones, 1));
		a.resize(4096); // drops a's second page
		EXPECT_EQ(budget.used(), 2 * 4096u);
		EXPECT_TRUE(a.write(1ull << 20, ones, 1) == false); // beyond the new size
		b.clear();
		EXPECT_EQ(budget.used(), 4096u);
		EXPECT_TRUE(b.write(1ull << 31, ones, 1));
		EXPECT_EQ(budget.peak(), 3 * 4096u);
	}
	EXPECT_EQ(budget.used(), 0u); // destruction gives everything back
}

// A WRITE beyond the shared budget is a clear ERROR, not INVALID, changes
// nothing and costs no simulated time; other models and RESET give room back.
TEST(Model, MemoryBudgetRefusesWritesWithError)
{
	MemoryBudget budget(2 * 4096);
	DeviceModel a({}, &budget);
	DeviceModel b({}, &budget);
	const std::vector<uint8_t> data(64, 0xab);
	// CONFIGURE to 4 GiB commits nothing, so it is accepted.
	EXPECT_EQ(call(a, config_req(SST_CFG_MEM_SIZE, 1ull << 32)).status, SST_STATUS_OK);
	EXPECT_EQ(budget.used(), 0u);
	EXPECT_EQ(call(a, write_req(0, data)).status, SST_STATUS_OK);
	EXPECT_EQ(call(a, write_req(3ull << 30, data)).status, SST_STATUS_OK);
	const uint64_t before = b.now_ps();
	const SSTResponse r = call(b, write_req(4096, data, 77));
	EXPECT_EQ(r.status, SST_STATUS_ERROR);
	EXPECT_EQ(r.request_id, 77u);
	EXPECT_EQ(b.now_ps(), before);
	EXPECT_EQ(b.stats().memory_refused, 1u);
	EXPECT_EQ(b.stats().invalid, 0u);
	EXPECT_EQ(b.stats().bytes_written, 0u);
	EXPECT_EQ(b.memory().resident_pages(), 0u);
	// Out of range stays INVALID, budget or not.
	EXPECT_EQ(call(b, write_req(1ull << 40, data)).status, SST_STATUS_INVALID);
	EXPECT_EQ(b.stats().invalid, 1u);
	// Reads never commit.
	EXPECT_EQ(call(b, read_req(8192, 64)).status, SST_STATUS_OK);
	EXPECT_EQ(call(a, make_req(SST_REQ_RESET)).status, SST_STATUS_OK);
	EXPECT_EQ(budget.used(), 0u);
	EXPECT_EQ(call(b, write_req(4096, data)).status, SST_STATUS_OK);
}

} // namespace
} // namespace vsst::sim
