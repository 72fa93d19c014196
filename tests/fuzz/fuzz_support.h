// SPDX-License-Identifier: Apache-2.0
// Shared helpers of the fuzz targets: an invariant check that stays on in
// release builds (assert() is compiled out by -DNDEBUG), and the byte
// reader/writer every target uses for its input format. The seed generator
// (gen_corpus.cpp) writes inputs with ByteWriter; the targets read them with
// ByteReader, so both sides share one definition of each format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

// A violated invariant is a bug: print why and abort so libFuzzer records a crash.
#define FUZZ_CHECK(cond, ...)                                                                                \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			std::fprintf(stderr, "\nFUZZ INVARIANT VIOLATED: %s\n  at %s:%d\n  ", #cond,         \
				     __FILE__, __LINE__);                                                    \
			std::fprintf(stderr, __VA_ARGS__);                                                   \
			std::fprintf(stderr, "\n");                                                          \
			std::abort();                                                                        \
		}                                                                                            \
	} while (0)

namespace vsst::fuzz {

// Reads little-endian values from the front of the input; past the end every
// read yields zero, so any byte string is a complete input.
class ByteReader {
public:
	ByteReader(const uint8_t *data, size_t size) : p_(data), n_(size) {}

	bool empty() const { return n_ == 0; }
	size_t left() const { return n_; }

	uint8_t u8() { return static_cast<uint8_t>(take(1)); }
	uint16_t u16() { return static_cast<uint16_t>(take(2)); }
	uint32_t u32() { return static_cast<uint32_t>(take(4)); }
	uint64_t u64() { return take(8); }
	bool flag() { return u8() & 1; }

	// Up to n bytes (fewer when the input runs out).
	std::span<const uint8_t> bytes(size_t n)
	{
		const size_t k = n < n_ ? n : n_;
		std::span<const uint8_t> s(p_, k);
		p_ += k;
		n_ -= k;
		return s;
	}
	// Exactly n bytes, zero-filled past the end of the input.
	void fill(void *dst, size_t n)
	{
		if (n == 0)
			return;
		auto s = bytes(n);
		std::memset(dst, 0, n);
		if (!s.empty())
			std::memcpy(dst, s.data(), s.size());
	}
	std::span<const uint8_t> rest() { return bytes(n_); }

private:
	uint64_t take(size_t k)
	{
		uint64_t v = 0;
		for (size_t i = 0; i < k && n_ > 0; ++i, ++p_, --n_)
			v |= uint64_t{*p_} << (8 * i);
		return v;
	}

	const uint8_t *p_;
	size_t n_;
};

// The writing side, for the seed generator.
class ByteWriter {
public:
	ByteWriter &u8(uint8_t v) { return put(v, 1); }
	ByteWriter &u16(uint16_t v) { return put(v, 2); }
	ByteWriter &u32(uint32_t v) { return put(v, 4); }
	ByteWriter &u64(uint64_t v) { return put(v, 8); }
	ByteWriter &raw(const void *p, size_t n)
	{
		const auto *b = static_cast<const uint8_t *>(p);
		buf_.insert(buf_.end(), b, b + n);
		return *this;
	}
	template <typename T> ByteWriter &pod(const T &v) { return raw(&v, sizeof v); }
	const std::vector<uint8_t> &data() const { return buf_; }
	size_t size() const { return buf_.size(); }

private:
	ByteWriter &put(uint64_t v, size_t k)
	{
		for (size_t i = 0; i < k; ++i)
			buf_.push_back(static_cast<uint8_t>(v >> (8 * i)));
		return *this;
	}
	std::vector<uint8_t> buf_;
};

// Printable, NUL-terminated within `max` bytes and non-empty.
inline bool sane_text(const char *s, size_t max)
{
	if (!s)
		return false;
	size_t i = 0;
	for (; i < max && s[i]; ++i)
		if (static_cast<unsigned char>(s[i]) < 0x20 || static_cast<unsigned char>(s[i]) >= 0x7f)
			return false;
	return i > 0 && i < max;
}

} // namespace vsst::fuzz
