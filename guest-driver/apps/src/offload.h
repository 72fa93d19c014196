// SPDX-License-Identifier: Apache-2.0
// sst-offload's logic, apart from the command line: the blocked matrix job
// (C = A x B in blocks, operands from a seed), its split across devices, the
// per-device pipeline that WRITEs operands, COMPUTEs and READs them back over
// the driver's SUBMIT/REAP interface, and the checks of everything that comes
// back. Runs against any Channel, so host tests can drive it with a fake.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sst_channel.h"

namespace vsst::guest::offload {

// The job: n x n int32 matrices, n = blocks * size, cut into blocks x blocks
// square blocks of size x size elements. One task per block of C: task (i, j)
// needs the block row i of A and the block column j of B (its "panels").
struct Job {
	uint32_t blocks = 4; // blocks per matrix dimension
	uint32_t size = 16;  // block edge in elements
	uint64_t seed = 1;
	uint32_t latency_model = SST_LATENCY_DEFAULT; // of the COMPUTE requests
	// Multiply each C block on the guest CPU from the read-back operands and
	// compare it with the one from the generated operands. Off, only the
	// byte-for-byte check runs (the guest's own arithmetic then does not
	// weigh on the wall time).
	bool product = true;

	uint32_t tasks() const { return blocks * blocks; }
	uint32_t dim() const { return blocks * size; }
	size_t block_bytes() const { return size_t(size) * size * sizeof(int32_t); }
	// A's panel then B's panel, each `blocks` blocks.
	size_t region_bytes() const { return 2 * size_t(blocks) * block_bytes(); }
	// Multiply-adds of one task: its COMPUTE's work items.
	uint64_t task_macs() const { return uint64_t(size) * size * size * blocks; }
};

// Limits the command line enforces (work items of one COMPUTE stay < 2^32).
inline constexpr uint32_t kMaxBlocks = 64;
inline constexpr uint32_t kMaxSize = 256;
static_assert(uint64_t(kMaxSize) * kMaxSize * kMaxSize * kMaxBlocks < (1ull << 32));

// Operand element (row, col) of matrix 'A' or 'B': small values in [-8, 7],
// a pure function of the seed, so the guest and the tests agree.
int32_t element(uint64_t seed, char matrix, uint32_t row, uint32_t col);

// The bytes task `task` writes to device memory: A(i, 0..blocks-1) then
// B(0..blocks-1, j), each block row-major, little-endian int32.
std::vector<uint8_t> task_region(const Job &job, uint32_t task);

// C block of task `task` computed from a region image (as task_region lays it
// out): C(i, j) = sum over k of A(i, k) x B(k, j), with wrapping arithmetic.
std::vector<int32_t> c_block(const Job &job, const uint8_t *region);

// Which tasks each device runs: contiguous, balanced (sizes differ by at most
// one, the larger shares first), every task exactly once.
std::vector<std::vector<uint32_t>> split_tasks(uint32_t tasks, uint32_t devices);

// Byte chunks of a region: each at most `max` bytes (one WRITE / READ).
struct Chunk {
	uint32_t offset;
	uint32_t size;
};
std::vector<Chunk> chunks(size_t region_bytes, uint32_t max);
// WRITE and READ chunk size: SST_MAX_WRITE_SIZE rounded down to whole elements.
inline constexpr uint32_t kChunkBytes = SST_MAX_WRITE_SIZE / 4 * 4;

// Checks a READ answer against what was written there. Returns "" when the
// bytes match, else a one-line reason naming the first differing byte.
std::string check_bytes(const uint8_t *want, const uint8_t *got, size_t len, uint64_t addr);

// What one device did.
struct DeviceReport {
	std::string device;
	uint32_t tasks = 0;
	uint64_t requests = 0;        // answered requests of the job (incl. markers)
	uint64_t bytes_written = 0;   // WRITE bytes acknowledged
	uint64_t bytes_verified = 0;  // READ bytes compared equal to what was written
	uint64_t blocks_verified = 0; // C blocks from the read-back operands = expectation
	uint64_t compute_cycles = 0;  // sum of COMPUTE unit occupancy (response `result`)
	uint64_t product_ns = 0;      // guest CPU time spent on the C blocks (Job::product)
	uint64_t sim_start_ps = 0;    // device time before the job (marker COMPUTE)
	uint64_t sim_end_ps = 0;      // device time after it
	uint64_t wall_ns = 0;
	uint32_t max_in_flight = 0;
	uint64_t mismatches = 0; // READ bytes that differ / C blocks that differ
	uint64_t bad_status = 0; // answers with a status other than OK, or malformed
	std::string error;       // first failure, "" when none
	bool io_failed = false;  // the device could not be used (open, submit, reap, timeout)

	uint64_t sim_ps() const { return sim_end_ps > sim_start_ps ? sim_end_ps - sim_start_ps : 0; }
	bool ok() const { return error.empty() && !io_failed && !mismatches && !bad_status; }
};

struct RunOptions {
	uint32_t depth = 32;      // requests in flight (capped at the driver's max_per_fd)
	int64_t deadline_ns = 0;  // CLOCK_MONOTONIC bound, 0 = none
	uint64_t memory_size = 0; // 0: ask the device (GET_INFO)
};

// Runs the tasks on one open device: GET_INFO, a marker COMPUTE of 0 work
// items (the device's simulated time before), every task's WRITEs, then its
// COMPUTE, then its READs (each stage only after the previous one answered:
// the order holds even if the device answered out of order), with up to
// `depth` requests in flight through SST_IOC_SUBMIT / SST_IOC_REAP, then a
// closing marker COMPUTE. Tasks occupy slots of region_bytes in device memory.
DeviceReport run_device(Channel &ch, const Job &job, const std::vector<uint32_t> &tasks,
			const RunOptions &opt);

uint64_t monotonic_ns();

} // namespace vsst::guest::offload
