// SPDX-License-Identifier: Apache-2.0
// Shared pieces of the SST-core element library `vsst`: the events carried
// on the links between Bridge, Compute and Memory, and the handler forms of
// the supported SST-core versions.
//
// Handler forms: SST-core 14 uses `Handler<T>(this, &T::fn)`; 15 deprecates
// it for `Handler2<T, &T::fn>(this)` (which 14 also has); 16 renames that
// form back to `Handler<T, &T::fn>`. VSST_SST_MAJOR comes from CMake
// (parsed from `sst-config --pkgconfig`).
#pragma once

// sst_config.h must come first in every element source. It is installed as
// <prefix>/include/sst/core/sst_config.h and `sst-config --ELEMENT_CXXFLAGS`
// only adds <prefix>/include, so it is named by its full path.
#include <sst/core/sst_config.h>

#include <sst/core/clock.h>
#include <sst/core/component.h>
#include <sst/core/event.h>
#include <sst/core/link.h>

#include <cstdint>
#include <vector>

#ifndef VSST_SST_MAJOR
#define VSST_SST_MAJOR 15
#endif

#if VSST_SST_MAJOR >= 16
#define VSST_CLOCK_HANDLER(T, fn) new SST::Clock::Handler<T, &T::fn>(this)
#define VSST_EVENT_HANDLER(T, fn) new SST::Event::Handler<T, &T::fn>(this)
#elif VSST_SST_MAJOR == 15
#define VSST_CLOCK_HANDLER(T, fn) new SST::Clock::Handler2<T, &T::fn>(this)
#define VSST_EVENT_HANDLER(T, fn) new SST::Event::Handler2<T, &T::fn>(this)
#else
#define VSST_CLOCK_HANDLER(T, fn) new SST::Clock::Handler<T>(this, &T::fn)
#define VSST_EVENT_HANDLER(T, fn) new SST::Event::Handler<T>(this, &T::fn)
#endif

namespace vsst::sstcore {

// What registerClock() gives back, to reregisterClock() a stopped clock: 16
// returns a TimeConverter by value; 15 still returns a pointer but converts
// it and deprecates the pointer forms; 14 has the pointer only.
#if VSST_SST_MAJOR >= 15
using ClockTc = SST::TimeConverter;
#else
using ClockTc = SST::TimeConverter *;
#endif

// Bridge -> Compute/Memory: one SSTRequest (its first 24..4104 bytes).
class RequestEvent : public SST::Event {
public:
	RequestEvent() = default;
	RequestEvent(uint64_t token, std::vector<uint8_t> request) : token(token), request(std::move(request))
	{
	}
	uint64_t token = 0;
	std::vector<uint8_t> request;

	void serialize_order(SST::Core::Serialization::serializer &ser) override
	{
		Event::serialize_order(ser);
		SST_SER(token);
		SST_SER(request);
	}
	ImplementSerializable(vsst::sstcore::RequestEvent);
};

// Compute/Memory -> Bridge: the SSTResponse (first 32..4112 bytes); the
// bridge fills in the timing fields when it arrives.
class ResponseEvent : public SST::Event {
public:
	ResponseEvent() = default;
	ResponseEvent(uint64_t token, std::vector<uint8_t> response)
		: token(token), response(std::move(response))
	{
	}
	uint64_t token = 0;
	std::vector<uint8_t> response;

	void serialize_order(SST::Core::Serialization::serializer &ser) override
	{
		Event::serialize_order(ser);
		SST_SER(token);
		SST_SER(response);
	}
	ImplementSerializable(vsst::sstcore::ResponseEvent);
};

// Bridge -> Compute/Memory: a CONFIGURE the bridge accepted, or a RESET.
class ControlEvent : public SST::Event {
public:
	enum Kind : uint32_t { kConfigure = 0, kReset = 1 };
	ControlEvent() = default;
	ControlEvent(uint32_t kind, uint32_t param, uint64_t value) : kind(kind), param(param), value(value)
	{
	}
	uint32_t kind = kConfigure;
	uint32_t param = 0;
	uint64_t value = 0;

	void serialize_order(SST::Core::Serialization::serializer &ser) override
	{
		Event::serialize_order(ser);
		SST_SER(kind);
		SST_SER(param);
		SST_SER(value);
	}
	ImplementSerializable(vsst::sstcore::ControlEvent);
};

} // namespace vsst::sstcore
