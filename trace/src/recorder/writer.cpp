// SPDX-License-Identifier: Apache-2.0
#include "writer.hpp"

#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace vsst::trace {

uint64_t monotonic_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t realtime_ns()
{
	timespec ts{};
	clock_gettime(CLOCK_REALTIME, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {

int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		const ssize_t w = ::write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= static_cast<size_t>(w);
	}
	return 0;
}

} // namespace

Writer::Writer(int fd, std::vector<uint8_t> header, uint64_t budget)
	: fd_(fd), budget_(budget), t0_ns_(monotonic_ns()), buf_(std::move(header))
{
	st_.bytes = buf_.size();
	thread_ = std::thread([this] { run(); });
}

Writer::~Writer()
{
	finish();
}

uint64_t Writer::now_ns() const
{
	return monotonic_ns() - t0_ns_;
}

void Writer::put(RecType type, uint8_t sub, uint16_t aux, uint64_t t, std::initializer_list<Piece> payload,
		 size_t plen)
{
	RecHeader h{static_cast<uint32_t>(kRecordHeader + plen), static_cast<uint8_t>(type), sub, aux, t};
	const size_t at = buf_.size();
	buf_.resize(at + h.size);
	std::memcpy(buf_.data() + at, &h, sizeof h);
	size_t off = at + sizeof h;
	for (const Piece &p : payload) {
		if (p.len)
			std::memcpy(buf_.data() + off, p.data, p.len);
		off += p.len;
	}
	st_.records++;
	st_.bytes += h.size;
}

void Writer::append(RecType type, uint8_t sub, uint16_t aux, std::initializer_list<Piece> payload)
{
	size_t plen = 0;
	for (const Piece &p : payload)
		plen += p.len;
	if (plen > kMaxRecord - kRecordHeader)
		plen = kMaxRecord; // never representable: counted as dropped below
	const size_t need = kRecordHeader + plen;
	try {
		std::lock_guard<std::mutex> lk(mu_);
		if (finished_)
			return;
		// Timestamps are taken under the lock so they never go backwards.
		const uint64_t t = std::max(now_ns(), last_t_);
		last_t_ = t;
		const size_t drop_rec = pend_drop_records_ ? kRecordHeader + sizeof(DroppedRec) : 0;
		if (plen >= kMaxRecord || buf_.size() + need + drop_rec > budget_) {
			pend_drop_records_++;
			pend_drop_bytes_ += need;
			st_.dropped_records++;
			st_.dropped_bytes += need;
			return;
		}
		const bool was_empty = buf_.empty();
		if (pend_drop_records_) {
			DroppedRec d{pend_drop_records_, pend_drop_bytes_};
			put(RecType::Dropped, 0, 0, t, {{&d, sizeof d}}, sizeof d);
			pend_drop_records_ = pend_drop_bytes_ = 0;
		}
		put(type, sub, aux, t, payload, plen);
		if (was_empty || buf_.size() >= (64u << 10))
			cv_.notify_one();
	} catch (...) {
		// Out of memory: count it as dropped; recording must not take the process down.
		std::lock_guard<std::mutex> lk(mu_);
		pend_drop_records_++;
		st_.dropped_records++;
	}
}

bool Writer::has_room(size_t plen) const
{
	if (plen > kMaxRecord - kRecordHeader)
		return false;
	std::lock_guard<std::mutex> lk(mu_);
	const size_t drop_rec = pend_drop_records_ ? kRecordHeader + sizeof(DroppedRec) : 0;
	return !finished_ && buf_.size() + kRecordHeader + plen + drop_rec <= budget_;
}

void Writer::count_dropped(size_t plen)
{
	std::lock_guard<std::mutex> lk(mu_);
	if (finished_)
		return;
	pend_drop_records_++;
	pend_drop_bytes_ += kRecordHeader + plen;
	st_.dropped_records++;
	st_.dropped_bytes += kRecordHeader + plen;
}

void Writer::run()
{
	std::vector<uint8_t> out;
	std::unique_lock<std::mutex> lk(mu_);
	for (;;) {
		cv_.wait(lk, [&] { return quit_ || !buf_.empty(); });
		if (buf_.empty() && quit_)
			break;
		out.clear();
		out.swap(buf_);
		lk.unlock();
		int r = 0;
		if (fd_ >= 0)
			r = write_all(fd_, out.data(), out.size());
		lk.lock();
		if (r < 0 && st_.write_error == 0)
			st_.write_error = r;
	}
}

int Writer::finish()
{
	{
		std::lock_guard<std::mutex> lk(mu_);
		if (finished_)
			return st_.write_error;
		const uint64_t t = std::max(now_ns(), last_t_);
		if (pend_drop_records_) {
			DroppedRec d{pend_drop_records_, pend_drop_bytes_};
			put(RecType::Dropped, 0, 0, t, {{&d, sizeof d}}, sizeof d);
			pend_drop_records_ = pend_drop_bytes_ = 0;
		}
		EndRec e{st_.records + 1, st_.dropped_records, st_.bytes + kRecordHeader + sizeof(EndRec)};
		put(RecType::End, 0, 0, t, {{&e, sizeof e}}, sizeof e);
		finished_ = true;
		quit_ = true;
		cv_.notify_one();
	}
	if (thread_.joinable())
		thread_.join();
	std::lock_guard<std::mutex> lk(mu_);
	if (fd_ >= 0) {
		if (::fsync(fd_) < 0 && errno != EINVAL && errno != EROFS && st_.write_error == 0)
			st_.write_error = -errno;
		::close(fd_);
		fd_ = -1;
	}
	return st_.write_error;
}

WriterStats Writer::stats() const
{
	std::lock_guard<std::mutex> lk(mu_);
	return st_;
}

} // namespace vsst::trace
