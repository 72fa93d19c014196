// SPDX-License-Identifier: Apache-2.0
// The C API of sst_device.h. No exception crosses it: each entry point
// catches everything and reports it the way its contract allows.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include "device.h"
#include "vsst/sst_device.h"

struct vsst_dev {
	std::unique_ptr<vsst::Device> impl;
};

namespace {

void set_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		std::snprintf(err, errlen, "%s", msg);
}

} // namespace

extern "C" {

vsst_dev *vsst_dev_new(const struct vsst_dev_config *cfg, char *err, size_t errlen)
{
	if (!cfg) {
		set_err(err, errlen, "no configuration");
		return nullptr;
	}
	try {
		std::string why;
		auto impl = vsst::Device::create(*cfg, why);
		if (!impl) {
			set_err(err, errlen, why.c_str());
			return nullptr;
		}
		auto *dev = new vsst_dev;
		dev->impl = std::move(impl);
		return dev;
	} catch (const std::exception &e) {
		set_err(err, errlen, e.what());
	} catch (...) {
		set_err(err, errlen, "unexpected failure");
	}
	return nullptr;
}

void vsst_dev_free(vsst_dev *dev)
{
	try {
		delete dev;
	} catch (...) {
	}
}

int vsst_dev_submit(vsst_dev *dev, const void *req, size_t len, uint64_t cookie)
{
	if (!dev)
		return -EINVAL;
	try {
		return dev->impl->submit(req, len, cookie);
	} catch (const std::bad_alloc &) {
		return -ENOMEM;
	} catch (...) {
		return -EIO;
	}
}

int vsst_dev_submit_at(vsst_dev *dev, const void *req, size_t len, uint64_t cookie, uint64_t submit_ns)
{
	if (!dev)
		return -EINVAL;
	// Nanoseconds -> picoseconds, saturating (2^64 ps is 213 days).
	const uint64_t ps = submit_ns > UINT64_MAX / 1000 ? UINT64_MAX : submit_ns * 1000;
	try {
		return dev->impl->submit(req, len, cookie, ps);
	} catch (const std::bad_alloc &) {
		return -ENOMEM;
	} catch (...) {
		return -EIO;
	}
}

int64_t vsst_dev_min_latency_ns(vsst_dev *dev)
{
	if (!dev)
		return -1;
	const int64_t ps = dev->impl->min_latency_ps();
	return ps < 0 ? -1 : ps / 1000;
}

int vsst_dev_reap_at(vsst_dev *dev, vsst_dev_done_at_fn on_done, vsst_dev_event_fn on_event, void *opaque)
{
	if (!dev)
		return 0;
	struct Ctx {
		vsst_dev_done_at_fn fn;
		vsst_dev_event_fn ev;
		void *opaque;
	} ctx{on_done, on_event, opaque};
	// ps -> ns rounded up: an answer is never delivered before its time.
	auto done = [](void *p, uint64_t cookie, const SSTResponse *resp, uint64_t complete_ps) {
		auto *c = static_cast<Ctx *>(p);
		if (c->fn)
			c->fn(c->opaque, cookie, resp, complete_ps / 1000 + (complete_ps % 1000 != 0));
	};
	auto event = [](void *p, const SSTEvent *ev) {
		auto *c = static_cast<Ctx *>(p);
		if (c->ev)
			c->ev(c->opaque, ev);
	};
	try {
		return dev->impl->reap_at(done, event, &ctx);
	} catch (...) {
		return 0;
	}
}

int vsst_dev_notify_fd(vsst_dev *dev)
{
	return dev ? dev->impl->notify_fd() : -1;
}

int vsst_dev_reap(vsst_dev *dev, vsst_dev_done_fn on_done, vsst_dev_event_fn on_event, void *opaque)
{
	if (!dev)
		return 0;
	try {
		return dev->impl->reap(on_done, on_event, opaque);
	} catch (...) {
		return 0;
	}
}

void vsst_dev_cancel_all(vsst_dev *dev)
{
	if (!dev)
		return;
	try {
		dev->impl->cancel_all();
	} catch (...) {
	}
}

void vsst_dev_get_config(vsst_dev *dev, struct SSTConfig *cfg)
{
	if (!dev || !cfg)
		return;
	*cfg = dev->impl->config();
}

uint64_t vsst_dev_features(vsst_dev *dev)
{
	return dev ? dev->impl->features() : 0;
}

void vsst_dev_get_stats(vsst_dev *dev, struct vsst_dev_stats *st)
{
	if (!dev || !st)
		return;
	*st = dev->impl->stats();
}

void vsst_dev_set_sim_observer(vsst_dev *dev,
			       void (*fn)(void *opaque, int what, unsigned conn, const void *data,
					  size_t len),
			       void *opaque)
{
	if (!dev)
		return;
	try {
		dev->impl->set_sim_observer(fn, opaque);
	} catch (...) {
	}
}

} // extern "C"
