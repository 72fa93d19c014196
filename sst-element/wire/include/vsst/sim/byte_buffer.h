// SPDX-License-Identifier: Apache-2.0
// A growable byte FIFO: append at the back, consume from the front.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace vsst::sim {

class ByteBuffer {
 public:
  size_t size() const { return data_.size() - head_; }
  bool empty() const { return size() == 0; }
  const uint8_t* data() const { return data_.data() + head_; }
  std::span<const uint8_t> view() const { return {data(), size()}; }

  void append(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    data_.insert(data_.end(), b, b + n);
  }
  void append_zeros(size_t n) { data_.resize(data_.size() + n, 0); }

  // Space for up to n bytes at the back; commit() how many were filled.
  uint8_t* prepare(size_t n) {
    compact();
    filled_ = data_.size();
    data_.resize(filled_ + n);
    return data_.data() + filled_;
  }
  void commit(size_t used) { data_.resize(filled_ + used); }

  void consume(size_t n) {
    head_ += n < size() ? n : size();
    if (head_ == data_.size()) {
      data_.clear();
      head_ = 0;
    }
  }
  void clear() {
    data_.clear();
    head_ = 0;
  }

 private:
  void compact() {
    if (head_ > 0 && head_ >= data_.size() / 2) {
      data_.erase(data_.begin(), data_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  std::vector<uint8_t> data_;
  size_t head_ = 0;
  size_t filled_ = 0;
};

}  // namespace vsst::sim
