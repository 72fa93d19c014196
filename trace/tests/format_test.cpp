// SPDX-License-Identifier: Apache-2.0
// replay.format: the trace writer and reader without QEMU: round trip of
// every record kind, the budget (DROPPED records), the virtio tap on a
// hand-built split virtqueue in a memfd, and the reader's validation of
// damaged files (each check proven to fire).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "vsst/trace.h"
#include "vsst/trace/reader.hpp"

using namespace vsst::trace;
namespace fs = std::filesystem;

namespace {

struct TmpFile {
	std::string path;
	TmpFile()
	{
		char t[] = "/tmp/vsst-trace-test-XXXXXX";
		const int fd = ::mkstemp(t);
		::close(fd);
		path = t;
	}
	~TmpFile() { ::unlink(path.c_str()); }
};

std::vector<uint8_t> read_file(const std::string &p)
{
	std::ifstream f(p, std::ios::binary);
	return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), {});
}

vsst_rpcmsg mmio(unsigned as, uint64_t addr, unsigned len, unsigned dir, uint64_t data, bool posted = false)
{
	return {vsst_rpc_mr0(VSST_RPC_OP_MMIO, 0, dir, as, len, posted), addr, data, 7};
}

// A guest RAM memfd the test writes and the recorder maps.
struct Ram {
	int fd = -1;
	uint8_t *p = nullptr;
	size_t size = 1 << 20;
	vsst_ram_layout layout{};
	Ram()
	{
		fd = ::memfd_create("ram", MFD_CLOEXEC);
		EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
		p = static_cast<uint8_t *>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
		layout.count = 1;
		layout.region[0] = {0, size, 0, fd};
	}
	~Ram()
	{
		::munmap(p, size);
		::close(fd);
	}
	template <class T> void put(uint64_t gpa, T v) { std::memcpy(p + gpa, &v, sizeof v); }
};

TEST(Format, RoundTripOfEveryKind)
{
	TmpFile f;
	const char *args[] = {"-device", "virtio-sst-pci,socket={sim}"};
	vsst_trace_config c{};
	c.origin = "unit";
	c.qemu_args = args;
	c.n_qemu_args = 2;
	c.note = "a note";
	char err[256];
	vsst_trace *t = vsst_trace_open(f.path.c_str(), &c, err, sizeof err);
	ASSERT_NE(t, nullptr) << err;
	const vsst_rpcmsg m = mmio(VSST_RPC_AS_GLOBAL, 0x1000, 4, 1, 0xabcd);
	vsst_trace_on_message(t, 0, 0, &m);
	vsst_trace_sim_connected(t, 0);
	vsst_trace_sim_data(t, 0, 0, "hello", 5);
	vsst_trace_sim_closed(t, 0);
	vsst_trace_note(t, "hi");
	ASSERT_EQ(vsst_trace_close(t), 0);

	Trace tr;
	ParseError pe;
	ASSERT_TRUE(load_trace(f.path, tr, pe, false)) << pe.str();
	EXPECT_TRUE(tr.complete);
	EXPECT_EQ(tr.header.origin, "unit");
	ASSERT_EQ(tr.header.qemu_args.size(), 2u);
	EXPECT_EQ(tr.header.qemu_args[1], "virtio-sst-pci,socket={sim}");
	ASSERT_EQ(tr.header.nondet.size(), 2u); // the virtio-rng default
	ASSERT_EQ(tr.records.size(), 6u);
	EXPECT_EQ(tr.records[0].type, RecType::Msg);
	EXPECT_EQ(tr.records[0].msg().mr2, 0xabcdu);
	EXPECT_EQ(tr.records[2].type, RecType::Sim);
	EXPECT_EQ(std::string(tr.records[2].payload.begin(), tr.records[2].payload.end()), "hello");
	EXPECT_EQ(tr.records[5].type, RecType::End);
	EXPECT_EQ(describe(tr, tr.records[0]).rfind("#0 t=", 0), 0u);
	EXPECT_NE(describe(tr, tr.records[0]).find("MMIO W as=glob addr=0x1000 len=4 data=0xabcd"),
		  std::string::npos)
		<< describe(tr, tr.records[0]);
}

TEST(Format, OverBudgetSaysDropped)
{
	TmpFile f;
	vsst_trace_config c{};
	c.budget_bytes = 4096; // the header plus a handful of records
	char err[256];
	vsst_trace *t = vsst_trace_open(f.path.c_str(), &c, err, sizeof err);
	ASSERT_NE(t, nullptr) << err;
	std::vector<uint8_t> big(3000, 0x55);
	// Nothing drains while we hold the writer busy? The writer may drain at
	// any time, so push a burst much larger than the budget.
	for (int i = 0; i < 2000; i++)
		vsst_trace_sim_data(t, 0, 0, big.data(), big.size());
	vsst_trace_stats st{};
	vsst_trace_get_stats(t, &st);
	ASSERT_EQ(vsst_trace_close(t), 0);
	Trace tr;
	ParseError pe;
	ASSERT_TRUE(load_trace(f.path, tr, pe, false)) << pe.str();
	uint64_t dropped = 0;
	for (const Record &r : tr.records)
		if (r.type == RecType::Dropped)
			dropped += r.dropped().records;
	EXPECT_GT(st.dropped_records, 0u);
	EXPECT_EQ(dropped, st.dropped_records);
	EXPECT_EQ(tr.records.back().end().dropped, st.dropped_records);
}

// The tap follows a virtio-pci device from config and MMIO messages and
// captures a chain at the doorbell and its used element at the MSI.
// A recorder on a guest RAM memfd, fed the messages a virtio-pci device's
// setup produces: BAR 4 at 0xe0000000 with the common (0x0) and notify
// (0x3000, multiplier 4) capabilities, queue 0 of size 8 with its
// descriptor table at 0x10000, avail ring at 0x11000, used ring at 0x12000.
struct TapRig {
	static constexpr uint64_t bar = 0xe0000000;
	Ram ram;
	TmpFile f;
	vsst_trace *t = nullptr;

	TapRig()
	{
		vsst_trace_config c{};
		c.ram = &ram.layout;
		char err[256];
		t = vsst_trace_open(f.path.c_str(), &c, err, sizeof err);
		EXPECT_NE(t, nullptr) << err;
		if (t)
			setup();
	}
	~TapRig()
	{
		if (t)
			vsst_trace_close(t);
	}
	void sent(const vsst_rpcmsg &m) { vsst_trace_on_message(t, 0, 0, &m); }
	void done(const vsst_rpcmsg &m) { vsst_trace_on_message(t, 1, 1, &m); }
	void event(const vsst_rpcmsg &m) { vsst_trace_on_message(t, 1, 2, &m); }

	void setup()
	{
		event({vsst_rpc_mr0(VSST_RPC_OP_REGISTER_PCI_DEV, 0, 0, 0, 0, 0), 0, 0x1af4107full, 0xff00});
		done(mmio(0, 0x20, 4, 0, 0x4)); // BAR4 low: 64-bit type
		sent(mmio(0, 0x20, 4, 1, bar));
		sent(mmio(0, 0x24, 4, 1, 0));
		done(mmio(0, 0x34, 1, 0, 0x40));
		done(mmio(0, 0x40, 4, 0, 0x01105009)); // vndr, next 0x50, len 16, type 1 (common)
		done(mmio(0, 0x44, 4, 0, 0x4));        // bar 4
		done(mmio(0, 0x48, 4, 0, 0x0));        // offset 0
		done(mmio(0, 0x4c, 4, 0, 0x1000));     // length
		done(mmio(0, 0x50, 4, 0, 0x02140009)); // vndr, next 0, len 20, type 2 (notify)
		done(mmio(0, 0x54, 4, 0, 0x4));
		done(mmio(0, 0x58, 4, 0, 0x3000));
		done(mmio(0, 0x5c, 4, 0, 0x1000));
		done(mmio(0, 0x60, 4, 0, 4)); // notify_off_multiplier
		sent(mmio(0xff, bar + 22, 2, 1, 0));
		done(mmio(0xff, bar + 24, 2, 0, 8));
		done(mmio(0xff, bar + 30, 2, 0, 0));
		sent(mmio(0xff, bar + 32, 8, 1, 0x10000));
		sent(mmio(0xff, bar + 40, 8, 1, 0x11000));
		sent(mmio(0xff, bar + 48, 8, 1, 0x12000));
	}
	// Makes a two-descriptor chain at head (out 16 bytes at out_gpa, then
	// in 32 bytes at in_gpa) available as avail.ring[pos].
	void chain(uint16_t head, uint16_t pos, uint64_t out_gpa, const char (&out)[17], uint64_t in_gpa)
	{
		const uint64_t d = 0x10000 + 16ull * head;
		ram.put<uint64_t>(d, out_gpa);
		ram.put<uint32_t>(d + 8, 16);
		ram.put<uint16_t>(d + 12, 1); // NEXT
		ram.put<uint16_t>(d + 14, static_cast<uint16_t>(head + 1));
		ram.put<uint64_t>(d + 16, in_gpa);
		ram.put<uint32_t>(d + 24, 32);
		ram.put<uint16_t>(d + 28, 2); // WRITE
		std::memcpy(ram.p + out_gpa, out, 16);
		ram.put<uint16_t>(0x11004 + 2 * (pos & 7), head);
		ram.put<uint16_t>(0x11002, static_cast<uint16_t>(pos + 1)); // avail.idx
	}
	// The device writes reply into in_gpa and publishes used[pos] = {head, len}.
	void use(uint16_t pos, uint16_t head, uint64_t in_gpa, const char *reply, uint32_t len)
	{
		std::memcpy(ram.p + in_gpa, reply, len);
		ram.put<uint32_t>(0x12004 + 8 * (pos & 7), head);
		ram.put<uint32_t>(0x12008 + 8 * (pos & 7), len);
		ram.put<uint16_t>(0x12002, static_cast<uint16_t>(pos + 1));
	}
	void doorbell() { sent(mmio(0xff, bar + 0x3000, 2, 1, 0, true)); }
	void msi() { event({vsst_rpc_mr0(VSST_RPC_OP_MSI, 0, 0, 0, 0, 0), 0xfee00000, 1, 0}); }

	uint64_t anomalies()
	{
		vsst_trace_stats st{};
		vsst_trace_get_stats(t, &st);
		return st.tap_anomalies;
	}
	Trace close()
	{
		EXPECT_EQ(vsst_trace_close(t), 0);
		t = nullptr;
		Trace tr;
		ParseError pe;
		EXPECT_TRUE(load_trace(f.path, tr, pe, false)) << pe.str();
		return tr;
	}
};

std::vector<const Record *> of_type(const Trace &tr, RecType type)
{
	std::vector<const Record *> v;
	for (const Record &r : tr.records)
		if (r.type == type)
			v.push_back(&r);
	return v;
}

bool used_is(const Record &r, uint32_t id, const char *data, size_t n)
{
	const auto d = r.used_data();
	return r.used().id == id && r.used().len == n && !(r.used().flags & kUsedUnknown) && d.size() == n &&
	       std::memcmp(d.data(), data, n) == 0;
}

TEST(Tap, CapturesChainsAndUsedElements)
{
	TapRig rig;
	ASSERT_NE(rig.t, nullptr);
	rig.chain(0, 0, 0x20000, "out-buffer-bytes", 0x21000);
	rig.doorbell();
	rig.use(0, 0, 0x21000, "reply", 5);
	rig.msi();
	EXPECT_EQ(rig.anomalies(), 0u);
	const Trace tr = rig.close();

	bool saw_out = false, saw_avail = false, saw_used = false;
	int64_t doorbell = -1, first_mem = -1;
	for (const Record &r : tr.records) {
		if (r.type == RecType::Mem) {
			if (first_mem < 0)
				first_mem = static_cast<int64_t>(r.index);
			if (r.mem().gpa == 0x20000 &&
			    std::memcmp(r.mem_data().data(), "out-buffer-bytes", 16) == 0)
				saw_out = true;
		}
		if (r.type == RecType::Msg && r.sub == 0 && vsst_rpc_mr0_posted(r.msg().mr0))
			doorbell = static_cast<int64_t>(r.index);
		if (r.type == RecType::Avail)
			saw_avail = r.avail().count == 1 && r.avail().notify_addr == TapRig::bar + 0x3000 &&
				    !r.avail().late;
		if (r.type == RecType::Used)
			saw_used = used_is(r, 0, "reply", 5);
	}
	EXPECT_TRUE(saw_out);
	EXPECT_TRUE(saw_avail);
	EXPECT_TRUE(saw_used);
	// What the driver published precedes the doorbell that announced it.
	EXPECT_LT(first_mem, doorbell);
}

// QEMU kicks every queue once when DRIVER_OK starts its ioeventfds, so a
// device can take (and answer) a chain before the doorbell that announces
// it. The tap must still record the chain, as a late one, before its used
// element, which must not read as unknown (replay.record failed on that).
TEST(Tap, ChainAnsweredBeforeItsDoorbell)
{
	TapRig rig;
	ASSERT_NE(rig.t, nullptr);
	rig.chain(0, 0, 0x20000, "out-buffer-bytes", 0x21000);
	rig.use(0, 0, 0x21000, "early", 5);
	rig.doorbell();
	EXPECT_EQ(rig.anomalies(), 0u);
	const Trace tr = rig.close();

	const auto avail = of_type(tr, RecType::Avail);
	const auto used = of_type(tr, RecType::Used);
	ASSERT_EQ(avail.size(), 1u) << "the chain must be made available once";
	ASSERT_EQ(used.size(), 1u);
	EXPECT_TRUE(avail[0]->avail().late);
	EXPECT_EQ(avail[0]->avail().count, 1u);
	EXPECT_TRUE(used_is(*used[0], 0, "early", 5)) << "used element recorded without its chain";
	EXPECT_LT(avail[0]->index, used[0]->index);
}

// A driver that polls its used ring reuses head 0 as soon as it sees
// used[0]; the interrupt for used[0] then makes the tap walk the new chain
// (late) before it records used[0]. Each used element must still be
// matched with the chain it answers, oldest first.
TEST(Tap, HeadReusedBeforeItsUsedElementWasRecorded)
{
	TapRig rig;
	ASSERT_NE(rig.t, nullptr);
	rig.chain(0, 0, 0x20000, "first-chain-out!", 0x21000);
	rig.doorbell();
	rig.use(0, 0, 0x21000, "one", 3);
	rig.chain(0, 1, 0x22000, "second-chain-out", 0x23000); // head 0 again, new in-buffer
	rig.msi();                                             // for used[0]
	rig.use(1, 0, 0x23000, "two", 3);
	rig.msi();
	EXPECT_EQ(rig.anomalies(), 0u);
	const Trace tr = rig.close();

	const auto used = of_type(tr, RecType::Used);
	ASSERT_EQ(used.size(), 2u);
	EXPECT_TRUE(used_is(*used[0], 0, "one", 3));
	EXPECT_TRUE(used_is(*used[1], 0, "two", 3));
	ASSERT_EQ(used[1]->used_segs().size(), 1u);
	EXPECT_EQ(used[1]->used_segs()[0].gpa, 0x23000u);
}

// A hostile driver that makes one head available again and again without
// the device ever using it must not grow the tap's memory: past 8 chains
// per head the oldest is dropped, with one anomaly each time.
TEST(Tap, HeadMadeAvailableTooOftenIsBounded)
{
	TapRig rig;
	ASSERT_NE(rig.t, nullptr);
	for (uint16_t pos = 0; pos < 10; pos++) {
		rig.chain(0, pos, 0x20000, "same-head-again!", 0x21000);
		rig.doorbell();
	}
	EXPECT_EQ(rig.anomalies(), 2u); // the 9th and the 10th
}

// Builds a small valid trace in memory for the damage tests.
std::vector<uint8_t> small_trace()
{
	TmpFile f;
	Ram ram;
	vsst_trace_config c{};
	c.ram = &ram.layout;
	char err[256];
	vsst_trace *t = vsst_trace_open(f.path.c_str(), &c, err, sizeof err);
	const vsst_rpcmsg m = mmio(VSST_RPC_AS_GLOBAL, 0x1000, 4, 1, 1);
	vsst_trace_on_message(t, 0, 0, &m);
	vsst_trace_sim_data(t, 0, 1, "abc", 3);
	vsst_trace_close(t);
	return read_file(f.path);
}

bool parses(const std::vector<uint8_t> &b, std::string *why = nullptr, bool strict = true)
{
	Trace tr;
	ParseError pe;
	const bool ok = parse_trace(b, tr, pe, !strict);
	if (why)
		*why = pe.what;
	return ok;
}

TEST(Reader, RejectsDamagedFiles)
{
	const std::vector<uint8_t> good = small_trace();
	ASSERT_TRUE(parses(good));
	const uint32_t hdr = [&] {
		uint32_t h;
		std::memcpy(&h, &good[12], 4);
		return h;
	}();
	std::string why;
	auto damaged = [&](auto fn) {
		std::vector<uint8_t> b = good;
		fn(b);
		return b;
	};
	EXPECT_FALSE(parses(damaged([](auto &b) { b[0] = 'X'; }), &why));
	EXPECT_NE(why.find("magic"), std::string::npos);
	EXPECT_FALSE(parses(damaged([](auto &b) { b[8] = 9; }), &why));
	EXPECT_NE(why.find("version"), std::string::npos);
	EXPECT_FALSE(parses(damaged([](auto &b) {
				    b[12] = 0xff;
				    b[13] = 0xff;
				    b[14] = 0xff;
			    }),
			    &why));
	// Record size smaller than its header.
	EXPECT_FALSE(parses(damaged([&](auto &b) {
				    b[hdr] = 3;
				    b[hdr + 1] = 0;
			    }),
			    &why));
	EXPECT_NE(why.find("size"), std::string::npos);
	// Unknown record type.
	EXPECT_FALSE(parses(damaged([&](auto &b) { b[hdr + 4] = 77; }), &why));
	EXPECT_NE(why.find("type"), std::string::npos);
	// Message on ring 5.
	EXPECT_FALSE(parses(damaged([&](auto &b) { b[hdr + 5] = 5; }), &why));
	// Truncated: strict rejects, lenient accepts what is there.
	std::vector<uint8_t> cut(good.begin(), good.end() - 10);
	EXPECT_FALSE(parses(cut, &why));
	EXPECT_TRUE(parses(cut, nullptr, false));
	// Appending a byte breaks the END totals check.
	std::vector<uint8_t> longer = good;
	longer.push_back(0);
	EXPECT_FALSE(parses(longer, &why));
	// Timestamps must not go backwards: make the second record older.
	std::vector<uint8_t> older = good;
	uint32_t first_size;
	std::memcpy(&first_size, &older[hdr], 4);
	const uint64_t big = ~0ull >> 1;
	std::memcpy(&older[hdr + 8], &big, 8);
	EXPECT_FALSE(parses(older, &why));
	EXPECT_NE(why.find("backwards"), std::string::npos);
}

// Random damage never crashes the reader (the libFuzzer target does more).
TEST(Reader, SurvivesRandomDamage)
{
	const std::vector<uint8_t> good = small_trace();
	std::mt19937 rng(1234);
	for (int i = 0; i < 20000; i++) {
		std::vector<uint8_t> b = good;
		const int flips = 1 + static_cast<int>(rng() % 8);
		for (int k = 0; k < flips; k++)
			b[rng() % b.size()] = static_cast<uint8_t>(rng());
		if (rng() % 4 == 0)
			b.resize(rng() % b.size());
		Trace tr;
		ParseError pe;
		if (parse_trace(b, tr, pe, true))
			for (const Record &r : tr.records)
				(void)describe(tr, r);
	}
}

} // namespace
