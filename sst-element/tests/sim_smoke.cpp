// SPDX-License-Identifier: Apache-2.0
// sim_smoke SOCKET [framed|acalsim]: one short session against a simulator
// (sst-sim or the SST-core vsst.Bridge): GET_INFO, WRITE, READ back,
// COMPUTE. Exit 0 when every answer is right, 1 otherwise.
#include <cstdio>
#include <cstring>
#include <string>

#include "sim_test_util.h"
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
} // namespace

int main(int argc, char **argv)
{
	if (argc < 2) {
		std::fprintf(stderr, "usage: sim_smoke SOCKET [framed|acalsim]\n");
		return 2;
	}
	const bool framed = argc < 3 || std::string(argv[2]) != "acalsim";
	std::string err;
	auto c = SimClient::connect(argv[1], kTimeout, &err);
	if (!c) {
		std::fprintf(stderr, "sim_smoke: %s\n", err.c_str());
		return 1;
	}
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
