// SPDX-License-Identifier: Apache-2.0
#include "completion_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vsst {

bool CompletionQueue::init(std::string &err)
{
	efd_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	if (!efd_.valid()) {
		err = std::string("eventfd: ") + std::strerror(errno);
		return false;
	}
	return true;
}

void CompletionQueue::kick()
{
	const uint64_t one = 1;
	// EAGAIN only when the counter is saturated, which still reads as readable.
	[[maybe_unused]] ssize_t n = ::write(efd_.get(), &one, sizeof(one));
}

bool CompletionQueue::admit(uint32_t limit, uint64_t &epoch)
{
	std::lock_guard<std::mutex> g(mu_);
	if (outstanding_ >= limit)
		return false;
	outstanding_++;
	epoch = epoch_;
	return true;
}

void CompletionQueue::unadmit(uint64_t epoch)
{
	std::lock_guard<std::mutex> g(mu_);
	if (epoch == epoch_ && outstanding_ > 0)
		outstanding_--;
}

bool CompletionQueue::push_completion(uint64_t cookie, uint64_t epoch, const SSTResponse &resp,
				      uint64_t complete_ps)
{
	bool was_empty;
	{
		std::lock_guard<std::mutex> g(mu_);
		if (epoch != epoch_)
			return false;
		was_empty = items_.empty();
		Item &it = items_.emplace_back();
		it.is_event = false;
		it.cookie = cookie;
		it.epoch = epoch;
		it.complete_ps = complete_ps;
		std::memcpy(&it.resp, &resp, sizeof(resp));
	}
	if (was_empty)
		kick();
	return true;
}

bool CompletionQueue::push_event(const SSTEvent &ev)
{
	bool was_empty;
	{
		std::lock_guard<std::mutex> g(mu_);
		if (queued_events_ >= kMaxQueuedEvents)
			return false;
		was_empty = items_.empty();
		Item &it = items_.emplace_back();
		it.is_event = true;
		it.cookie = 0;
		it.epoch = epoch_;
		it.complete_ps = 0;
		std::memcpy(&it.ev, &ev, sizeof(ev));
		queued_events_++;
	}
	if (was_empty)
		kick();
	return true;
}

int CompletionQueue::reap(DoneFn on_done, EventFn on_event, void *opaque)
{
	return reap_with(
		[on_done, opaque](const Item &it) {
			if (on_done)
				on_done(opaque, it.cookie, &it.resp);
		},
		on_event, opaque);
}

int CompletionQueue::reap_at(DoneAtFn on_done, EventFn on_event, void *opaque)
{
	return reap_with(
		[on_done, opaque](const Item &it) {
			if (on_done)
				on_done(opaque, it.cookie, &it.resp, it.complete_ps);
		},
		on_event, opaque);
}

template <typename Fn> int CompletionQueue::reap_with(Fn &&done, EventFn on_event, void *opaque)
{
	// Clear the eventfd before taking the items: anything pushed after the
	// swap below finds an empty queue and kicks again, so nothing is missed.
	uint64_t drained;
	[[maybe_unused]] ssize_t r = ::read(efd_.get(), &drained, sizeof(drained));

	std::deque<Item> batch;
	{
		std::lock_guard<std::mutex> g(mu_);
		batch.swap(items_);
		queued_events_ = 0;
	}
	int delivered = 0;
	for (const Item &it : batch) {
		{
			// A callback may call cancel_all(); later items of the batch
			// then belong to a dead epoch and are dropped.
			std::lock_guard<std::mutex> g(mu_);
			if (it.epoch != epoch_)
				continue;
			if (!it.is_event && outstanding_ > 0)
				outstanding_--;
		}
		if (it.is_event) {
			if (on_event)
				on_event(opaque, &it.ev);
		} else {
			done(it);
		}
		delivered++;
	}
	return delivered;
}

uint64_t CompletionQueue::cancel_all()
{
	std::deque<Item> dropped;
	std::lock_guard<std::mutex> g(mu_);
	epoch_++;
	outstanding_ = 0;
	dropped.swap(items_);
	queued_events_ = 0;
	return epoch_;
}

uint32_t CompletionQueue::outstanding() const
{
	std::lock_guard<std::mutex> g(mu_);
	return outstanding_;
}

} // namespace vsst
