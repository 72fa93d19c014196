// SPDX-License-Identifier: Apache-2.0
// sim_smoke SOCKET [framed|acalsim]: one short session against a simulator
// (sst-sim or the SST-core vsst.Bridge): GET_INFO, WRITE, READ back,
// COMPUTE. Exit 0 when every answer is right, 1 otherwise.
//
// sim_smoke SOCKET timed LINK_PS: a synchronized-time session (HELLO feature
// TIMED, REQUEST_AT) against a simulator with the default model (1 GHz,
// 4 units, fixed latency 100 cycles per item); LINK_PS is what the request
// path adds to the model's latency (the SST configs' links). Checks that
// requests complete at exactly submit + latency (+ LINK_PS), that 16 at once
// form 4 waves, that a request sent 30 ms (wall) after another of the same
// submit time still starts at that time (the simulator waited for it), and
// that a late one starts at max(submit, device time). Prints the completion
// times of the on-time requests ("timed-signature: ...") for a caller that
// compares two runs.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>

#include "sim_test_util.h"
#include "vsst/protocol/frame_codec.h"
#include "vsst/sim/latency.h"
#include "vsst/sim/sim_client.h"

using namespace vsst;
using namespace vsst::sim;

namespace {
constexpr int kTimeout = 30000;

std::optional<SSTResponse> call(SimClient &c, bool framed, const SSTRequest &r, uint64_t tag)
{
	if (!framed)
		return c.acalsim_call(r, kTimeout);
	if (!c.send_request(tag, r, request_wire_size(r), kTimeout))
		return std::nullopt;
	for (;;) {
		auto f = c.read_frame(kTimeout);
		if (!f)
			return std::nullopt;
		if (f->hdr.type != VSST_SIM_RESPONSE || f->hdr.tag != tag)
			continue;
		SSTResponse resp{};
		const size_t off = sizeof(vsst_sim_resp_meta);
		if (f->payload.size() < off)
			return std::nullopt;
		std::memcpy(&resp, f->payload.data() + off, std::min(sizeof resp, f->payload.size() - off));
		return resp;
	}
}

bool check(bool ok, const char *what)
{
	std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
	return ok;
}

struct TimedAnswer {
	uint64_t complete_ps = 0;
	uint64_t cycles = 0;
	SSTResponse resp{};
};

int run_timed(SimClient &c, uint64_t link_ps)
{
	vsst_sim_hello h{};
	h.features = VSST_SIM_FEATURE_TIMED;
	if (!c.send_frame(VSST_SIM_HELLO, 0, &h, sizeof h, kTimeout))
		return check(false, "HELLO sent"), 1;
	auto f = c.read_frame(kTimeout);
	vsst_sim_hello_timing timing{};
	const bool granted =
		f && f->hdr.type == VSST_SIM_HELLO && f->payload.size() == sizeof h + sizeof timing &&
		(std::memcpy(&h, f->payload.data(), sizeof h), (h.features & VSST_SIM_FEATURE_TIMED) != 0);
	if (!check(granted, "HELLO: TIMED granted, with vsst_sim_hello_timing"))
		return 1;
	std::memcpy(&timing, f->payload.data() + sizeof h, sizeof timing);
	bool ok = check(timing.min_latency_ps == 0, "announced minimum latency 0 ps");

	std::map<uint64_t, TimedAnswer> answers; // by tag
	auto send = [&](const SSTRequest &r, uint64_t tag, uint64_t submit_ps) {
		ByteBuffer b;
		encode_request_at(b, tag, submit_ps,
				  {reinterpret_cast<const uint8_t *>(&r), request_wire_size(r)});
		return c.send_all(b.data(), b.size(), kTimeout);
	};
	auto wait = [&](uint64_t tag) -> std::optional<TimedAnswer> {
		while (!answers.count(tag)) {
			auto a = c.read_frame(kTimeout);
			if (!a || a->hdr.type != VSST_SIM_RESPONSE ||
			    a->payload.size() < sizeof(vsst_sim_resp_meta))
				return std::nullopt;
			vsst_sim_resp_meta meta{};
			std::memcpy(&meta, a->payload.data(), sizeof meta);
			TimedAnswer t;
			t.complete_ps = meta.complete_ps;
			t.cycles = meta.cycles;
			std::memcpy(&t.resp, a->payload.data() + sizeof meta,
				    std::min(sizeof t.resp, a->payload.size() - sizeof meta));
			answers[a->hdr.tag] = t;
		}
		return answers[tag];
	};
	// The default model: 10 items x 100 cycles at 1 GHz.
	const ModelParams model{};
	const uint64_t lat =
		*cycles_to_ps(compute_cost(model, SST_LATENCY_FIXED, 10)->unit_cycles, model.clock_hz) +
		link_ps;
	std::string signature;
	auto sign = [&](uint64_t ps) { signature += " " + std::to_string(ps); };

	// One request, far in the future of SST's time: it enters at its submit time.
	const uint64_t t1 = 5'000'000'000; // 5 ms
	send(test::compute_req(10, SST_LATENCY_FIXED, 1), 1, t1);
	auto a1 = wait(1);
	ok &= check(a1 && a1->resp.status == SST_STATUS_OK && a1->complete_ps == t1 + lat &&
			    a1->cycles * 1000 == lat,
		    "COMPUTE at 5 ms completes at exactly 5 ms + latency");
	if (a1)
		sign(a1->complete_ps);

	// 16 equal COMPUTEs submitted together on 4 units: 4 waves, L apart.
	const uint64_t t2 = 6'000'000'000;
	for (uint64_t i = 0; i < 16; ++i)
		send(test::compute_req(10, SST_LATENCY_FIXED, 10 + i), 10 + i, t2);
	std::map<uint64_t, int> waves;
	for (uint64_t i = 0; i < 16; ++i) {
		auto a = wait(10 + i);
		if (!a)
			break;
		++waves[a->complete_ps];
		sign(a->complete_ps);
	}
	const uint64_t unit = lat - link_ps;
	ok &= check(waves.size() == 4 && waves.begin()->first == t2 + lat &&
			    waves.rbegin()->first == t2 + 4 * unit + link_ps && waves.begin()->second == 4 &&
			    waves.rbegin()->second == 4,
		    "16 COMPUTEs at 6 ms on 4 units: 4 waves of 4, latency apart");

	// A second request of the same submit time, sent 30 ms (wall) after the
	// first is outstanding: the client's time is still 7 ms, so the simulator
	// must not have run past 7 ms meanwhile; both start at 7 ms.
	const uint64_t t3 = 7'000'000'000;
	send(test::compute_req(10, SST_LATENCY_FIXED, 30), 30, t3);
	std::this_thread::sleep_for(std::chrono::milliseconds(30));
	send(test::compute_req(10, SST_LATENCY_FIXED, 31), 31, t3);
	auto a30 = wait(30);
	auto a31 = wait(31);
	ok &= check(a30 && a31 && a30->complete_ps == t3 + lat && a31->complete_ps == t3 + lat,
		    "a request sent 30 ms (wall) after another of the same submit time starts at that "
		    "time too (the simulator held its time)");
	if (a30 && a31) {
		sign(a30->complete_ps);
		sign(a31->complete_ps);
	}

	// A late request (submit time long past): starts at once, at the device's
	// time, which is at least the latest submit time (7 ms).
	send(test::compute_req(10, SST_LATENCY_FIXED, 40), 40, 1'000'000'000);
	auto a40 = wait(40);
	ok &= check(a40 && a40->resp.status == SST_STATUS_OK && a40->complete_ps >= t3 + lat &&
			    a40->cycles * 1000 == lat,
		    "a late COMPUTE (submit 1 ms) completes at max(submit, device time >= 7 ms) + "
		    "latency");
	std::printf("timed-signature:%s\n", signature.c_str());
	return ok ? 0 : 1;
}
} // namespace

int main(int argc, char **argv)
{
	if (argc < 2 || (argc >= 3 && std::string(argv[2]) == "timed" && argc < 4)) {
		std::fprintf(stderr, "usage: sim_smoke SOCKET [framed|acalsim|timed LINK_PS]\n");
		return 2;
	}
	const bool framed = argc < 3 || std::string(argv[2]) != "acalsim";
	std::string err;
	auto c = SimClient::connect(argv[1], kTimeout, &err);
	if (!c) {
		std::fprintf(stderr, "sim_smoke: %s\n", err.c_str());
		return 1;
	}
	if (argc >= 4 && std::string(argv[2]) == "timed")
		return run_timed(*c, std::stoull(argv[3]));
	if (framed && !c->hello(0, false, kTimeout))
		return check(false, "HELLO"), 1;
	bool ok = true;
	auto info = call(*c, framed, test::make_req(SST_REQ_GET_INFO, 1), 1);
	ok &= check(info && info->status == SST_STATUS_OK &&
			    info->payload.info.version == SST_PROTOCOL_VERSION &&
			    info->payload.info.max_compute_units > 0,
		    "GET_INFO");
	const uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	auto w = call(*c, framed, test::write_req(8192, data, 2), 2);
	ok &= check(w && w->status == SST_STATUS_OK && w->result == 8, "WRITE");
	auto r = call(*c, framed, test::read_req(8192, 8, 3), 3);
	ok &= check(r && r->status == SST_STATUS_OK && std::memcmp(r->payload.data, data, 8) == 0,
		    "READ back");
	auto k = call(*c, framed, test::compute_req(10, SST_LATENCY_FIXED, 4), 4);
	ok &= check(k && k->status == SST_STATUS_OK && k->payload.compute.cycles >= 1000 &&
			    k->payload.compute.timestamp > 0,
		    "COMPUTE (10 items x 100 cycles)");
	auto bad = call(*c, framed, test::read_req(1ull << 50, 8, 5), 5);
	ok &= check(bad && bad->status == SST_STATUS_INVALID, "out-of-range READ -> INVALID");
	return ok ? 0 : 1;
}
