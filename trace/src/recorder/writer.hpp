// SPDX-License-Identifier: Apache-2.0
// Trace writer: encodes records into a bounded in-memory buffer that a
// writer thread drains to the file. Producers never wait for the disk.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vsst/trace/format.hpp"

namespace vsst::trace {

struct Piece {
	const void *data;
	size_t len;
};

struct WriterStats {
	uint64_t records = 0, bytes = 0, dropped_records = 0, dropped_bytes = 0;
	int write_error = 0;
};

class Writer {
public:
	// Takes ownership of fd. header: the complete file header (written first).
	Writer(int fd, std::vector<uint8_t> header, uint64_t budget);
	~Writer();
	Writer(const Writer &) = delete;
	Writer &operator=(const Writer &) = delete;

	// Appends one record (pieces concatenated as payload). Never blocks on I/O.
	void append(RecType type, uint8_t sub, uint16_t aux, std::initializer_list<Piece> payload);
	// Whether a record with plen payload bytes fits the budget now (the
	// writer thread only frees room, so a true answer stays true unless
	// another producer appends first). Lets a producer skip gathering what
	// append would drop.
	bool has_room(size_t plen) const;
	// Counts a record of plen payload bytes the producer did not gather as
	// dropped, exactly as append does for one over the budget.
	void count_dropped(size_t plen);
	// Writes END, drains, closes the file. Returns 0 or -errno.
	int finish();
	WriterStats stats() const;

private:
	void run();
	void put(RecType type, uint8_t sub, uint16_t aux, uint64_t t, std::initializer_list<Piece> payload,
		 size_t plen); // with mu_ held
	uint64_t now_ns() const;

	int fd_;
	uint64_t budget_;
	uint64_t t0_ns_;
	mutable std::mutex mu_;
	std::condition_variable cv_;
	std::vector<uint8_t> buf_;
	uint64_t last_t_ = 0;
	uint64_t pend_drop_records_ = 0, pend_drop_bytes_ = 0;
	WriterStats st_;
	bool quit_ = false, finished_ = false;
	std::thread thread_;
};

uint64_t monotonic_ns();
uint64_t realtime_ns();

} // namespace vsst::trace
