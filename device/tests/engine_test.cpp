// SPDX-License-Identifier: Apache-2.0
// The request engine: validation of guest-supplied requests and the answers
// the device gives without a simulator.
#include <gtest/gtest.h>

#include <cstring>

#include "harness.h"
#include "request_engine.h"

namespace vsst {
namespace {

using test::make_req;

constexpr uint32_t kFeatures = 0x2f;

RequestEngine engine(SimCapacities caps = {})
{
	return RequestEngine(kFeatures, [caps] { return caps; });
}

TEST(Engine, ShortRequestIsInvalidAndEchoesWhatIdsItCan)
{
	SSTRequest r = make_req(SST_REQ_NOOP, 42, 99);
	SSTResponse resp;
	auto e = engine();
	EXPECT_EQ(e.handle(r, SST_REQUEST_HEADER_SIZE - 1, resp), Route::local);
	EXPECT_EQ(resp.status, SST_STATUS_INVALID);
	EXPECT_EQ(resp.request_id, 42u);
	EXPECT_EQ(resp.user_data, 99u);
	EXPECT_EQ(RequestEngine::validate(r, 0), SST_STATUS_INVALID);
	EXPECT_EQ(RequestEngine::validate(r, sizeof(SSTRequest) + 1), SST_STATUS_INVALID);
	EXPECT_EQ(RequestEngine::validate(r, SST_REQUEST_HEADER_SIZE), SST_STATUS_OK);
}

TEST(Engine, UnknownTypeIsInvalid)
{
	SSTResponse resp;
	auto e = engine();
	for (uint32_t t : {static_cast<uint32_t>(SST_REQ_MAX), 99u, 0xffffffffu}) {
		SSTRequest r = make_req(t, 1);
		EXPECT_EQ(e.handle(r, sizeof(r), resp), Route::local);
		EXPECT_EQ(resp.status, SST_STATUS_INVALID) << t;
	}
}

TEST(Engine, FlagsAreChecked)
{
	SSTRequest r = make_req(SST_REQ_COMPUTE, 1);
	r.flags = SST_REQ_FLAG_ASYNC;
	EXPECT_EQ(RequestEngine::validate(r, sizeof(r)), SST_STATUS_OK);
	r.flags = 1u << 5;
	EXPECT_EQ(RequestEngine::validate(r, sizeof(r)), SST_STATUS_INVALID);
	SSTRequest n = make_req(SST_REQ_NOOP, 1);
	n.flags = SST_REQ_FLAG_ASYNC; // ASYNC only means something for COMPUTE
	EXPECT_EQ(RequestEngine::validate(n, sizeof(n)), SST_STATUS_INVALID);
}

TEST(Engine, PayloadDescriptorsAreChecked)
{
	SSTRequest c = make_req(SST_REQ_COMPUTE, 1);
	c.payload.compute.latency_model = SST_LATENCY_MAX;
	EXPECT_EQ(RequestEngine::validate(c, sizeof(c)), SST_STATUS_INVALID);
	c.payload.compute.latency_model = SST_LATENCY_BANDWIDTH;
	EXPECT_EQ(RequestEngine::validate(c, sizeof(c)), SST_STATUS_OK);
	EXPECT_EQ(RequestEngine::validate(c, SST_REQUEST_HEADER_SIZE + 11), SST_STATUS_INVALID);

	SSTRequest rd = make_req(SST_REQ_READ, 1);
	rd.payload.memory.size = 0;
	EXPECT_EQ(RequestEngine::validate(rd, sizeof(rd)), SST_STATUS_INVALID);
	rd.payload.memory.size = SST_MAX_DATA_SIZE + 1;
	EXPECT_EQ(RequestEngine::validate(rd, sizeof(rd)), SST_STATUS_INVALID);
	rd.payload.memory.size = SST_MAX_DATA_SIZE;
	EXPECT_EQ(RequestEngine::validate(rd, sizeof(rd)), SST_STATUS_OK);
	rd.payload.memory.addr = UINT64_MAX - 10; // addr + size wraps
	EXPECT_EQ(RequestEngine::validate(rd, sizeof(rd)), SST_STATUS_INVALID);

	SSTRequest wr = make_req(SST_REQ_WRITE, 1);
	wr.payload.memory.size = SST_MAX_WRITE_SIZE + 1;
	EXPECT_EQ(RequestEngine::validate(wr, sizeof(wr)), SST_STATUS_INVALID);
	wr.payload.memory.size = 100;
	EXPECT_EQ(RequestEngine::validate(wr, sizeof(wr)), SST_STATUS_OK);
	// The WRITE announces 100 bytes but the guest supplied fewer.
	EXPECT_EQ(RequestEngine::validate(wr, SST_REQUEST_HEADER_SIZE + SST_WRITE_DATA_OFFSET + 99),
		  SST_STATUS_INVALID);
	EXPECT_EQ(RequestEngine::validate(wr, SST_REQUEST_HEADER_SIZE + SST_WRITE_DATA_OFFSET + 100),
		  SST_STATUS_OK);

	SSTRequest cf = make_req(SST_REQ_CONFIGURE, 1);
	cf.payload.config.param = SST_CFG_MAX;
	EXPECT_EQ(RequestEngine::validate(cf, sizeof(cf)), SST_STATUS_INVALID);
	cf.payload.config.param = SST_CFG_MEM_SIZE;
	EXPECT_EQ(RequestEngine::validate(cf, sizeof(cf)), SST_STATUS_OK);
}

TEST(Engine, RoutesByType)
{
	SSTResponse resp;
	auto e = engine();
	for (uint32_t t : {SST_REQ_NOOP, SST_REQ_ECHO, SST_REQ_GET_INFO, SST_REQ_RESET}) {
		SSTRequest r = make_req(t, 5);
		EXPECT_EQ(e.handle(r, sizeof(r), resp), Route::local) << t;
		EXPECT_EQ(resp.status, SST_STATUS_OK) << t;
		EXPECT_EQ(resp.request_id, 5u);
		EXPECT_EQ(resp.user_data, r.user_data);
	}
	SSTRequest c = make_req(SST_REQ_COMPUTE, 5);
	SSTRequest rd = make_req(SST_REQ_READ, 5);
	rd.payload.memory.size = 8;
	SSTRequest wr = make_req(SST_REQ_WRITE, 5);
	wr.payload.memory.size = 8;
	SSTRequest cf = make_req(SST_REQ_CONFIGURE, 5);
	for (const SSTRequest *r : {&c, &rd, &wr, &cf})
		EXPECT_EQ(e.handle(*r, sizeof(*r), resp), Route::forward) << r->type;
}

TEST(Engine, EchoReturnsExactlyThePayloadSent)
{
	SSTRequest r = make_req(SST_REQ_ECHO, 3);
	for (int i = 0; i < 100; i++)
		r.payload.data[i] = static_cast<uint8_t>(i * 3 + 1);
	SSTResponse resp;
	std::memset(&resp, 0xaa, sizeof(resp));
	auto e = engine();
	ASSERT_EQ(e.handle(r, SST_REQUEST_HEADER_SIZE + 100, resp), Route::local);
	EXPECT_EQ(resp.status, SST_STATUS_OK);
	EXPECT_EQ(resp.result, 100u);
	EXPECT_EQ(0, std::memcmp(resp.payload.data, r.payload.data, 100));
	EXPECT_EQ(resp.payload.data[100], 0); // nothing stale past the echo

	ASSERT_EQ(e.handle(r, sizeof(r), resp), Route::local);
	EXPECT_EQ(resp.result, static_cast<uint64_t>(SST_MAX_DATA_SIZE));
}

TEST(Engine, GetInfoWithoutSimulatorReportsLocalInfoOnly)
{
	SSTRequest r = make_req(SST_REQ_GET_INFO, 9);
	SSTResponse resp;
	auto e = engine({false, 64, 4096});
	ASSERT_EQ(e.handle(r, sizeof(r), resp), Route::local);
	EXPECT_EQ(resp.payload.info.version, SST_PROTOCOL_VERSION);
	EXPECT_EQ(resp.payload.info.capabilities, kFeatures);
	EXPECT_EQ(resp.payload.info.max_compute_units, 0u);
	EXPECT_EQ(resp.payload.info.memory_size, 0u);
	EXPECT_EQ(resp.result, 0u);
}

TEST(Engine, GetInfoIncludesSimulatorCapacities)
{
	SSTRequest r = make_req(SST_REQ_GET_INFO, 9);
	SSTResponse resp;
	auto e = engine({true, 64, 4096});
	ASSERT_EQ(e.handle(r, sizeof(r), resp), Route::local);
	EXPECT_EQ(resp.payload.info.max_compute_units, 64u);
	EXPECT_EQ(resp.payload.info.memory_size, 4096u);
	EXPECT_EQ(resp.result, 1u);
}

// Through the C API, without a simulator configured.
TEST(DeviceLocal, AnswersLocallyAndNoDeviceForForwardedTypes)
{
	test::Harness h(nullptr);
	ASSERT_NE(h.dev, nullptr);
	SSTRequest echo = make_req(SST_REQ_ECHO, 2);
	std::memcpy(echo.payload.data, "hello", 5);
	ASSERT_EQ(h.submit(make_req(SST_REQ_NOOP, 1), 100), 0);
	ASSERT_EQ(h.submit(echo, 101, SST_REQUEST_HEADER_SIZE + 5), 0);
	ASSERT_EQ(h.submit(make_req(SST_REQ_GET_INFO, 3), 102), 0);
	ASSERT_EQ(h.submit(make_req(SST_REQ_RESET, 4), 103), 0);
	ASSERT_EQ(h.submit(test::make_compute(5, 10), 104), 0);
	ASSERT_EQ(h.submit(make_req(42, 6), 105), 0);
	ASSERT_EQ(h.submit(make_req(SST_REQ_NOOP, 7), 106, 3), 0);
	ASSERT_EQ(vsst_dev_submit(h.dev, nullptr, 10, 107), 0);
	ASSERT_TRUE(h.wait_done(8));
	h.expect_each_once(100, 8);
	EXPECT_EQ(h.only(100).status, SST_STATUS_OK);
	EXPECT_EQ(h.only(101).status, SST_STATUS_OK);
	EXPECT_EQ(0, std::memcmp(h.only(101).payload.data, "hello", 5));
	EXPECT_EQ(h.only(102).payload.info.capabilities, vsst_dev_features(h.dev));
	EXPECT_EQ(h.only(103).status, SST_STATUS_OK);
	EXPECT_EQ(h.only(104).status, SST_STATUS_NO_DEVICE);
	EXPECT_EQ(h.only(104).request_id, 5u);
	EXPECT_EQ(h.only(105).status, SST_STATUS_INVALID);
	EXPECT_EQ(h.only(106).status, SST_STATUS_INVALID);
	EXPECT_EQ(h.only(107).status, SST_STATUS_INVALID);

	auto s = h.stats();
	EXPECT_EQ(s.requests, 8u);
	EXPECT_EQ(s.responses, 8u);
	EXPECT_EQ(s.local, 4u);
	EXPECT_EQ(s.forwarded, 1u);
	EXPECT_EQ(s.no_device, 1u);
	EXPECT_EQ(s.errors, 3u);
	EXPECT_EQ(s.inflight, 0u);
	EXPECT_EQ(s.connected, 0u);
}

TEST(DeviceLocal, ConfigAndFeatures)
{
	test::Harness h(nullptr);
	SSTConfig c{};
	vsst_dev_get_config(h.dev, &c);
	EXPECT_EQ(c.version, SST_PROTOCOL_VERSION);
	EXPECT_EQ(c.device_id, 7u);
	EXPECT_EQ(c.max_queues, 1u);
	const uint64_t f = vsst_dev_features(h.dev);
	EXPECT_EQ(c.features, f);
	for (int bit : {SST_FEATURE_ECHO, SST_FEATURE_COMPUTE, SST_FEATURE_MEMORY, SST_FEATURE_EVENTS,
			SST_FEATURE_RESET})
		EXPECT_TRUE(f & (1u << bit)) << bit;
	EXPECT_FALSE(f & (1u << SST_FEATURE_MULTI_QUEUE));
}

TEST(DeviceLocal, MaxInflightGivesEbusyUntilReaped)
{
	test::Harness h(nullptr, VSST_DEV_PROTO_FRAMED, 10000, 4);
	for (uint64_t i = 0; i < 4; i++)
		ASSERT_EQ(h.submit(make_req(SST_REQ_NOOP, i), i), 0);
	EXPECT_EQ(h.submit(make_req(SST_REQ_NOOP, 9), 9), -EBUSY);
	EXPECT_EQ(h.stats().inflight, 4u);
	ASSERT_TRUE(h.wait_done(4));
	EXPECT_EQ(h.submit(make_req(SST_REQ_NOOP, 9), 9), 0);
	ASSERT_TRUE(h.wait_done(5));
	EXPECT_EQ(h.stats().requests, 5u);
}

TEST(DeviceLocal, NotifyFdReadableOnlyWhileSomethingWaits)
{
	test::Harness h(nullptr);
	pollfd p{vsst_dev_notify_fd(h.dev), POLLIN, 0};
	EXPECT_EQ(::poll(&p, 1, 0), 0);
	ASSERT_EQ(h.submit(make_req(SST_REQ_NOOP, 1), 1), 0);
	EXPECT_EQ(::poll(&p, 1, 0), 1);
	EXPECT_EQ(vsst_dev_reap(h.dev, nullptr, nullptr, nullptr), 1);
	EXPECT_EQ(::poll(&p, 1, 0), 0);
}

TEST(DeviceLocal, CancelAllForgetsQueuedCompletions)
{
	test::Harness h(nullptr);
	for (uint64_t i = 0; i < 10; i++)
		ASSERT_EQ(h.submit(make_req(SST_REQ_NOOP, i), i), 0);
	vsst_dev_cancel_all(h.dev);
	EXPECT_EQ(h.stats().inflight, 0u);
	EXPECT_EQ(vsst_dev_reap(h.dev, nullptr, nullptr, nullptr), 0);
	ASSERT_EQ(h.submit(make_req(SST_REQ_NOOP, 50), 50), 0);
	ASSERT_TRUE(h.wait_done(1));
	EXPECT_EQ(h.done[0].cookie, 50u);
}

// cancel_all called from inside a completion callback drops the rest of the batch.
TEST(DeviceLocal, CancelAllFromCallbackStopsTheBatch)
{
	test::Harness h(nullptr);
	for (uint64_t i = 0; i < 5; i++)
		ASSERT_EQ(h.submit(make_req(SST_REQ_NOOP, i), i), 0);
	struct Ctx {
		vsst_dev *dev;
		int calls;
	} ctx{h.dev, 0};
	auto cb = [](void *o, uint64_t, const SSTResponse *) {
		auto *c = static_cast<Ctx *>(o);
		if (++c->calls == 2)
			vsst_dev_cancel_all(c->dev);
	};
	EXPECT_EQ(vsst_dev_reap(h.dev, cb, nullptr, &ctx), 2);
	EXPECT_EQ(ctx.calls, 2);
	EXPECT_EQ(h.stats().inflight, 0u);
}

TEST(DeviceLocal, BadConfigurationIsRefusedWithAReason)
{
	vsst_dev_config cfg{};
	cfg.protocol = 7;
	char err[128] = "";
	EXPECT_EQ(vsst_dev_new(&cfg, err, sizeof(err)), nullptr);
	EXPECT_NE(std::string(err).find("protocol"), std::string::npos);
	std::string longpath(200, 'x');
	cfg.protocol = 0;
	cfg.socket_path = longpath.c_str();
	EXPECT_EQ(vsst_dev_new(&cfg, err, sizeof(err)), nullptr);
	EXPECT_NE(std::string(err).find("socket path"), std::string::npos);
	EXPECT_EQ(vsst_dev_new(nullptr, err, sizeof(err)), nullptr);
	vsst_dev_free(nullptr);
}

} // namespace
} // namespace vsst
