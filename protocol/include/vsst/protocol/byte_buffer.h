// SPDX-License-Identifier: Apache-2.0
// Growable byte FIFO for socket input/output (the device's simulator link,
// the simulator's connections): append at the tail, consume from the head,
// storage compacted lazily so steady traffic does not reallocate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace vsst {

class ByteBuffer {
public:
	const uint8_t *data() const { return buf_.data() + head_; }
	size_t size() const { return buf_.size() - head_; }
	bool empty() const { return size() == 0; }
	std::span<const uint8_t> view() const { return {data(), size()}; }

	void append(const void *p, size_t n)
	{
		const auto *b = static_cast<const uint8_t *>(p);
		buf_.insert(buf_.end(), b, b + n);
	}
	void append_zeros(size_t n) { buf_.resize(buf_.size() + n, 0); }

	// Drops n bytes from the head (at most what is there).
	void consume(size_t n)
	{
		head_ += n < size() ? n : size();
		if (head_ == buf_.size()) {
			buf_.clear();
			head_ = 0;
		}
	}
	// Room for n more bytes at the tail; commit(k) keeps k of them.
	uint8_t *prepare(size_t n)
	{
		if (head_ > 0 && head_ >= buf_.size() / 2) {
			std::memmove(buf_.data(), buf_.data() + head_, buf_.size() - head_);
			buf_.resize(buf_.size() - head_);
			head_ = 0;
		}
		committed_ = buf_.size();
		buf_.resize(committed_ + n);
		return buf_.data() + committed_;
	}
	void commit(size_t k) { buf_.resize(committed_ + k); }
	void clear()
	{
		buf_.clear();
		head_ = 0;
	}

private:
	std::vector<uint8_t> buf_;
	size_t head_ = 0;
	size_t committed_ = 0;
};

} // namespace vsst
