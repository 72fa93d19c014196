// SPDX-License-Identifier: Apache-2.0
// Thread-safe hand-off of completions and simulator events from whichever
// thread produced them to the thread that reaps them (QEMU's main loop).
// An eventfd is readable while something waits. It also keeps the count of
// outstanding cookies (submitted, not yet reaped) and the cancel epoch:
// cancel_all() bumps the epoch, and anything from an older epoch is dropped.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include "vsst/posix/unique_fd.h"
#include "vsst/sst-protocol.h"

namespace vsst {

class CompletionQueue {
public:
	using DoneFn = void (*)(void *opaque, uint64_t cookie, const SSTResponse *resp);
	using EventFn = void (*)(void *opaque, const SSTEvent *ev);
	using DoneAtFn = void (*)(void *opaque, uint64_t cookie, const SSTResponse *resp,
				  uint64_t complete_ps);

	static constexpr size_t kMaxQueuedEvents = 4096;

	bool init(std::string &err);
	int notify_fd() const { return efd_.get(); }

	// Reserves one outstanding slot; false when `limit` are outstanding.
	bool admit(uint32_t limit, uint64_t &epoch);
	// Gives a slot back when the submit could not go through at all.
	void unadmit(uint64_t epoch);

	// False if the cookie was cancelled meanwhile (nothing queued).
	bool push_completion(uint64_t cookie, uint64_t epoch, const SSTResponse &resp,
			     uint64_t complete_ps = 0);
	// False if the event backlog is full (event dropped).
	bool push_event(const SSTEvent &ev);

	int reap(DoneFn on_done, EventFn on_event, void *opaque);
	// Same, with each answer's simulated completion time (0: none).
	int reap_at(DoneAtFn on_done, EventFn on_event, void *opaque);

	// Forgets every outstanding cookie and queued item; returns the new epoch.
	uint64_t cancel_all();

	uint32_t outstanding() const;

private:
	struct Item {
		bool is_event;
		uint64_t cookie;
		uint64_t epoch;
		uint64_t complete_ps;
		SSTEvent ev;
		SSTResponse resp;
	};
	void kick();
	template <typename Fn> int reap_with(Fn &&done, EventFn on_event, void *opaque);

	UniqueFd efd_;
	mutable std::mutex mu_;
	std::deque<Item> items_;
	size_t queued_events_ = 0;
	uint64_t epoch_ = 1;
	uint32_t outstanding_ = 0;
};

} // namespace vsst
