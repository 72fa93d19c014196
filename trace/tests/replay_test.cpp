// SPDX-License-Identifier: Apache-2.0
// replay.golden: every golden trace in trace/tests/golden replays to a full match
// against a fresh device VM, twice with identical results (hermetic, the
// simulator served from the trace), and the sst trace also against a live
// sst-sim.
// replay.diverge: the check can fail. A device property that changes one
// byte of ECHO answers makes the replay fail at that used element; copies
// of the sst golden trace with
// one thing changed (one byte of an ECHO response, a config read value, a
// byte the device sends the simulator, an event field) each fail at exactly
// that record with a diff naming the field and both values; a trace with a
// DROPPED record is refused.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "vsst/devvm/binaries.h"
#include "vsst/sst-protocol.h"
#include "vsst/trace/replay.hpp"

using namespace vsst::trace;
namespace fs = std::filesystem;

namespace {

// Where the binaries are: the device-VM library's one rule ($VSST_QEMU, $VSST_BIN).
std::string qemu_path()
{
	return vsst::devvm::default_qemu();
}

std::string sim_path()
{
	return vsst::devvm::default_sim();
}

Trace load(const std::string &name)
{
	Trace t;
	ParseError e;
	EXPECT_TRUE(load_trace(std::string(VSST_TRACES_DIR) + "/" + name, t, e, false)) << e.str();
	return t;
}

ReplayOptions options()
{
	ReplayOptions o;
	o.qemu = qemu_path();
	o.image_dir = VSST_TRACES_DIR;
	o.timeout_ms = 5000;
	return o;
}

std::string show(const ReplayResult &r)
{
	return "status " + std::to_string(static_cast<int>(r.status)) + " at #" + std::to_string(r.record) +
	       ": " + r.what + "\n  recorded: " + r.recorded + "\n" + r.qemu_log_tail;
}

// Re-parses a modified copy of a trace's bytes (sizes unchanged, so the END
// totals still hold and the damage is only semantic).
Trace modified(const Trace &t, size_t offset, const std::vector<uint8_t> &bytes)
{
	std::vector<uint8_t> b = t.bytes;
	std::memcpy(&b[offset], bytes.data(), bytes.size());
	Trace out;
	ParseError e;
	EXPECT_TRUE(parse_trace(b, out, e, false)) << e.str();
	return out;
}

// File offset of a USED record's device-written bytes.
size_t r_data_offset(const Record &r)
{
	return r.offset + kRecordHeader + sizeof(UsedHdr) + r.used().nseg * sizeof(UsedSeg);
}

class Golden : public ::testing::TestWithParam<const char *> {};

TEST_P(Golden, ReplaysToAFullMatchTwice)
{
	const Trace t = load(GetParam());
	ASSERT_FALSE(t.records.empty());
	const ReplayResult a = replay_trace(t, options());
	ASSERT_EQ(a.status, ReplayStatus::Match) << show(a);
	EXPECT_EQ(a.records, t.records.size());
	EXPECT_GT(a.used, 0u);
	const ReplayResult b = replay_trace(t, options());
	ASSERT_EQ(b.status, ReplayStatus::Match) << show(b);
	EXPECT_EQ(a.records, b.records);
	EXPECT_EQ(a.requests, b.requests);
	EXPECT_EQ(a.completions, b.completions);
	EXPECT_EQ(a.used, b.used);
	EXPECT_EQ(a.mem_bytes, b.mem_bytes);
	EXPECT_EQ(a.sim_bytes, b.sim_bytes);
}

// sst/rng/blk: the host-side driver playing the guest; guest-*: a Linux
// guest through vmm-proxy --trace, recorded in the device VMs.
INSTANTIATE_TEST_SUITE_P(Traces, Golden,
			 ::testing::Values("sst.vtrace", "rng.vtrace", "blk.vtrace", "guest-sst.vtrace",
					   "guest-rng.vtrace", "guest-blk.vtrace"));

// A guest trace recorded in the device VM carries the simulator stream (the
// device core's observer) and is served from it hermetically: every
// simulator byte the replay sends comes from the trace.
TEST(Golden, GuestSstCarriesTheSimulatorStream)
{
	const Trace t = load("guest-sst.vtrace");
	size_t conns = 0, sim = 0;
	for (const Record &r : t.records) {
		conns += r.type == RecType::SimConn && r.sub == 0;
		sim += r.type == RecType::Sim ? r.payload.size() : 0;
	}
	EXPECT_EQ(conns, 1u);
	EXPECT_GT(sim, 0u);
	const ReplayResult r = replay_trace(t, options());
	ASSERT_EQ(r.status, ReplayStatus::Match) << show(r);
	EXPECT_EQ(r.sim_bytes, sim);
}

TEST(Golden, SstAgainstLiveSimulator)
{
	if (::access(sim_path().c_str(), X_OK) != 0)
		GTEST_SKIP() << "no sst-sim at " << sim_path();
	ReplayOptions o = options();
	o.sim = sim_path();
	const ReplayResult r = replay_trace(load("sst.vtrace"), o);
	EXPECT_EQ(r.status, ReplayStatus::Match) << show(r);
	EXPECT_EQ(r.sim_bytes, 0u); // nothing served from the trace
}

TEST(Golden, GuestSstAgainstLiveSimulator)
{
	if (::access(sim_path().c_str(), X_OK) != 0)
		GTEST_SKIP() << "no sst-sim at " << sim_path();
	ReplayOptions o = options();
	o.sim = sim_path();
	const ReplayResult r = replay_trace(load("guest-sst.vtrace"), o);
	EXPECT_EQ(r.status, ReplayStatus::Match) << show(r);
	EXPECT_EQ(r.sim_bytes, 0u);
}

TEST(Diverge, OneEchoByteOfTheResponse)
{
	const Trace t = load("sst.vtrace");
	// The 16-byte ECHO: its response carries "ABCDEFGHIJKLMNOP" at payload offset 32.
	const Record *echo = nullptr;
	for (const Record &r : t.records) {
		if (r.type != RecType::Used)
			continue;
		const auto d = r.used_data();
		if (d.size() >= 48 &&
		    std::memcmp(d.data() + SST_RESPONSE_HEADER_SIZE, "ABCDEFGHIJKLMNOP", 16) == 0) {
			echo = &r;
			break;
		}
	}
	ASSERT_NE(echo, nullptr) << "no ECHO response in the golden trace";
	const size_t data_off = static_cast<size_t>(r_data_offset(*echo));
	const size_t byte = SST_RESPONSE_HEADER_SIZE + 3; // 'D'
	const Trace bad = modified(t, data_off + byte, {'d'});
	const ReplayResult r = replay_trace(bad, options());
	ASSERT_EQ(r.status, ReplayStatus::Diverged) << show(r);
	EXPECT_EQ(r.record, static_cast<int64_t>(echo->index));
	EXPECT_NE(r.what.find("device-written byte 35"), std::string::npos) << r.what;
	EXPECT_NE(r.what.find("recorded 0x64, replayed 0x44"), std::string::npos) << r.what;
	EXPECT_NE(r.recorded.find("USED dev=0 q=0"), std::string::npos) << r.recorded;
}

// The device itself answers differently: virtio-sst's test property flips
// bit 5 of ECHO data byte 3 ('D' -> 'd'); the replay fails at the first
// ECHO's used element with that byte's diff.
TEST(Diverge, DevicePropertyFlipsOneEchoByte)
{
	const Trace t = load("sst.vtrace");
	const Record *echo = nullptr;
	for (const Record &r : t.records) {
		if (r.type != RecType::Used)
			continue;
		const auto d = r.used_data();
		if (d.size() >= 48 &&
		    std::memcmp(d.data() + SST_RESPONSE_HEADER_SIZE, "ABCDEFGHIJKLMNOP", 16) == 0) {
			echo = &r;
			break;
		}
	}
	ASSERT_NE(echo, nullptr);
	ReplayOptions o = options();
	o.extra_qemu_args = {"-global", "virtio-sst-device.x-debug-echo-flip=3"};
	const ReplayResult r = replay_trace(t, o);
	ASSERT_EQ(r.status, ReplayStatus::Diverged) << show(r);
	EXPECT_EQ(r.record, static_cast<int64_t>(echo->index));
	EXPECT_NE(r.what.find("device-written byte 35"), std::string::npos) << r.what;
	EXPECT_NE(r.what.find("recorded 0x44, replayed 0x64"), std::string::npos) << r.what;
	// Without the property the same trace matches (the property is the cause).
	o.extra_qemu_args.clear();
	EXPECT_EQ(replay_trace(t, o).status, ReplayStatus::Match);
}

// The same on the Linux guest's trace: sst-test's first ECHO answer
// differs in bit 5 of data byte 3, and the replay stops at its used element.
TEST(Diverge, DevicePropertyFlipsOneEchoByteOfTheGuestTrace)
{
	const Trace t = load("guest-sst.vtrace");
	ReplayOptions o = options();
	o.extra_qemu_args = {"-global", "virtio-sst-device.x-debug-echo-flip=3"};
	const ReplayResult r = replay_trace(t, o);
	ASSERT_EQ(r.status, ReplayStatus::Diverged) << show(r);
	ASSERT_GE(r.record, 0);
	const Record &at = t.records[static_cast<size_t>(r.record)];
	EXPECT_EQ(at.type, RecType::Used) << r.recorded;
	EXPECT_NE(r.what.find("device-written byte 35"), std::string::npos) << r.what;
	// Recorded and replayed byte differ in exactly bit 5.
	const auto d = at.used_data();
	ASSERT_GT(d.size(), 35u);
	char want[64];
	std::snprintf(want, sizeof want, "recorded 0x%02x, replayed 0x%02x", d[35], d[35] ^ 0x20);
	EXPECT_NE(r.what.find(want), std::string::npos) << r.what;
}

TEST(Diverge, ConfigReadValue)
{
	const Trace t = load("sst.vtrace");
	const Record *vendor = nullptr;
	for (const Record &r : t.records)
		if (r.type == RecType::Msg && r.sub == 1 && vsst_rpc_mr0_as(r.msg().mr0) == 0 &&
		    r.msg().mr1 == 0 && r.msg().mr2 == 0x1af4) {
			vendor = &r;
			break;
		}
	ASSERT_NE(vendor, nullptr);
	const Trace bad = modified(t, vendor->offset + kRecordHeader + 16, {0xf5});
	const ReplayResult r = replay_trace(bad, options());
	ASSERT_EQ(r.status, ReplayStatus::Diverged) << show(r);
	EXPECT_EQ(r.record, static_cast<int64_t>(vendor->index));
	EXPECT_NE(r.what.find("completion data (mr2): recorded 0x1af5, replayed 0x1af4"), std::string::npos)
		<< r.what;
}

TEST(Diverge, BytesTheDeviceSendsTheSimulator)
{
	const Trace t = load("sst.vtrace");
	const Record *req = nullptr;
	for (const Record &r : t.records)
		if (r.type == RecType::Sim && r.sub == 0 && r.payload.size() > 30)
			req = &r; // the last request frame
	ASSERT_NE(req, nullptr);
	const size_t at = 28;
	const Trace bad = modified(t, req->offset + kRecordHeader + at,
				   {static_cast<uint8_t>(req->payload[at] ^ 0xff)});
	const ReplayResult r = replay_trace(bad, options());
	ASSERT_EQ(r.status, ReplayStatus::Diverged) << show(r);
	EXPECT_EQ(r.record, static_cast<int64_t>(req->index));
	EXPECT_NE(r.what.find("simulator stream (connection 0)"), std::string::npos) << r.what;
}

TEST(Diverge, EventField)
{
	const Trace t = load("sst.vtrace");
	const Record *reg = nullptr;
	for (const Record &r : t.records)
		if (r.type == RecType::Msg && r.sub == 2 &&
		    vsst_rpc_mr0_op(r.msg().mr0) == VSST_RPC_OP_REGISTER_PCI_DEV)
			reg = &r;
	ASSERT_NE(reg, nullptr);
	const Trace bad = modified(t, reg->offset + kRecordHeader + 24, {0x01}); // class code low byte
	const ReplayResult r = replay_trace(bad, options());
	ASSERT_EQ(r.status, ReplayStatus::Diverged) << show(r);
	EXPECT_EQ(r.record, static_cast<int64_t>(reg->index));
	EXPECT_NE(r.what.find("REGISTER_PCI_DEV event field class (mr3): recorded 0xff01, replayed 0xff00"),
		  std::string::npos)
		<< r.what;
}

TEST(Diverge, ForeignDeviceArgumentsAreRefused)
{
	Trace t = load("sst.vtrace");
	t.header.qemu_args = {"-chardev", "socket,path=/tmp/x"};
	const ReplayResult r = replay_trace(t, options());
	EXPECT_EQ(r.status, ReplayStatus::Error);
	EXPECT_NE(r.what.find("not allowed"), std::string::npos) << r.what;
}

} // namespace

int main(int argc, char **argv)
{
	if (::access(qemu_path().c_str(), X_OK) != 0) {
		const char *req = std::getenv("VSST_REQUIRE_ALL");
		if (req && std::strcmp(req, "1") == 0) {
			std::fprintf(stderr, "FAIL: VSST_REQUIRE_ALL=1 and no QEMU at %s\n",
				     qemu_path().c_str());
			return 1;
		}
		std::fprintf(stderr, "SKIP: no QEMU at %s (run ./vsst qemu or set VSST_QEMU)\n",
			     qemu_path().c_str());
		return 77;
	}
	::testing::InitGoogleTest(&argc, argv);
	return RUN_ALL_TESTS();
}
