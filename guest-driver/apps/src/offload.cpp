// SPDX-License-Identifier: Apache-2.0
#include "offload.h"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <unordered_set>

#include "requests.h"

namespace vsst::guest::offload {

uint64_t monotonic_ns()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

namespace {

// splitmix64's finaliser: a well-mixed pure function of its input.
uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

std::string fmt(const char *f, auto... args)
{
	char buf[256];
	snprintf(buf, sizeof(buf), f, args...);
	return buf;
}

} // namespace

int32_t element(uint64_t seed, char matrix, uint32_t row, uint32_t col)
{
	const uint64_t h = mix(mix(seed ^ (uint64_t(uint8_t(matrix)) << 56)) ^ (uint64_t(row) << 32 | col));
	return int32_t(h & 15) - 8;
}

std::vector<uint8_t> task_region(const Job &job, uint32_t task)
{
	const uint32_t bi = task / job.blocks, bj = task % job.blocks, s = job.size;
	std::vector<uint8_t> out(job.region_bytes());
	auto put = [&](size_t block, char m, uint32_t row0, uint32_t col0) {
		uint8_t *p = out.data() + block * job.block_bytes();
		for (uint32_t r = 0; r < s; r++)
			for (uint32_t c = 0; c < s; c++) {
				const int32_t v = element(job.seed, m, row0 + r, col0 + c);
				std::memcpy(p + (size_t(r) * s + c) * 4, &v, 4);
			}
	};
	for (uint32_t k = 0; k < job.blocks; k++) {
		put(k, 'A', bi * s, k * s);
		put(job.blocks + k, 'B', k * s, bj * s);
	}
	return out;
}

std::vector<int32_t> c_block(const Job &job, const uint8_t *region)
{
	const uint32_t s = job.size;
	// Wrapping (unsigned) accumulation: defined for any operands, so a
	// corrupted one changes the result instead of invoking overflow.
	std::vector<uint32_t> acc(size_t(s) * s, 0);
	auto at = [&](size_t block, uint32_t r, uint32_t c) {
		int32_t v;
		std::memcpy(&v, region + block * job.block_bytes() + (size_t(r) * s + c) * 4, 4);
		return uint32_t(v);
	};
	for (uint32_t k = 0; k < job.blocks; k++)
		for (uint32_t r = 0; r < s; r++)
			for (uint32_t m = 0; m < s; m++) {
				const uint32_t a = at(k, r, m);
				for (uint32_t c = 0; c < s; c++)
					acc[size_t(r) * s + c] += a * at(job.blocks + k, m, c);
			}
	return {acc.begin(), acc.end()};
}

std::vector<std::vector<uint32_t>> split_tasks(uint32_t tasks, uint32_t devices)
{
	std::vector<std::vector<uint32_t>> out(devices);
	if (!devices)
		return out;
	uint32_t next = 0;
	for (uint32_t d = 0; d < devices; d++) {
		const uint32_t n = tasks / devices + (d < tasks % devices ? 1 : 0);
		for (uint32_t i = 0; i < n; i++)
			out[d].push_back(next++);
	}
	return out;
}

std::vector<Chunk> chunks(size_t region_bytes, uint32_t max)
{
	std::vector<Chunk> out;
	for (size_t off = 0; off < region_bytes; off += max)
		out.push_back({uint32_t(off), uint32_t(std::min<size_t>(max, region_bytes - off))});
	return out;
}

std::string check_bytes(const uint8_t *want, const uint8_t *got, size_t len, uint64_t addr)
{
	const auto diff = first_difference(want, got, len);
	if (!diff)
		return "";
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += want[i] != got[i];
	return fmt("read back 0x%02x at device address 0x%llx, wrote 0x%02x (%zu of %zu bytes differ)",
		   got[*diff], (unsigned long long)(addr + *diff), want[*diff], n, len);
}

namespace {

enum Kind : uint32_t { kWrite = 1, kCompute = 2, kRead = 3, kMarker = 4 };

// user_data = tag | task << 24 | kind << 20 | chunk: an answer names its
// request, and one that names none we sent is caught.
constexpr uint64_t kTag = 0x5f0ull << 52;
constexpr uint64_t kTagMask = 0xfffull << 52;

uint64_t user_data(uint32_t local, Kind kind, uint32_t chunk)
{
	return kTag | uint64_t(local) << 24 | uint64_t(kind) << 20 | chunk;
}

struct TaskState {
	std::vector<uint8_t> want; // what the task writes
	std::vector<uint8_t> got;  // what came back
	uint32_t pending = 0;      // answers outstanding in the current stage
	bool done = false;
};

class Runner {
public:
	Runner(Channel &ch, const Job &job, const std::vector<uint32_t> &tasks, const RunOptions &opt)
		: ch_(ch), job_(job), tasks_(tasks), opt_(opt),
		  chunks_(chunks(job.region_bytes(), kChunkBytes))
	{
		rep_.tasks = uint32_t(tasks.size());
	}

	DeviceReport run()
	{
		const uint64_t t0 = monotonic_ns();
		if (setup() && marker(&rep_.sim_start_ps) && pipeline())
			marker(&rep_.sim_end_ps);
		rep_.wall_ns = monotonic_ns() - t0;
		return rep_;
	}

private:
	void io_fail(std::string why)
	{
		rep_.io_failed = true;
		if (rep_.error.empty())
			rep_.error = std::move(why);
	}
	void check_fail(std::string why)
	{
		if (rep_.error.empty())
			rep_.error = std::move(why);
	}
	bool past_deadline() const { return opt_.deadline_ns && int64_t(monotonic_ns()) > opt_.deadline_ns; }

	// One request through SUBMIT/REAP, waited for (GET_INFO and the markers).
	bool sync(const SSTRequest &req, SSTResponse *resp)
	{
		uint32_t s = 0;
		int rc = ch_.submit(&req, 1, nullptr, false, &s);
		if (rc || s != 1) {
			io_fail(fmt("SST_IOC_SUBMIT of %s: %s", std::string(type_name(req.type)).c_str(),
				    strerror(rc ? -rc : EIO)));
			return false;
		}
		for (;;) {
			uint32_t got = 0;
			rc = ch_.reap(resp, 1, 1, 1000, &got);
			if (rc) {
				io_fail(fmt("SST_IOC_REAP: %s", strerror(-rc)));
				return false;
			}
			if (got)
				break;
			if (past_deadline()) {
				io_fail("timed out waiting for the device");
				return false;
			}
		}
		rep_.requests++;
		if (resp->user_data != req.user_data) {
			rep_.bad_status++;
			check_fail(fmt("%s answered with user_data 0x%llx, sent 0x%llx",
				       std::string(type_name(req.type)).c_str(),
				       (unsigned long long)resp->user_data,
				       (unsigned long long)req.user_data));
			return false;
		}
		if (resp->status != SST_STATUS_OK) {
			rep_.bad_status++;
			check_fail(fmt("%s answered %s", std::string(type_name(req.type)).c_str(),
				       std::string(status_name(resp->status)).c_str()));
			return false;
		}
		return true;
	}

	bool setup()
	{
		sst_ioc_info info{};
		if (const int rc = ch_.info(&info)) {
			io_fail(fmt("SST_IOC_GET_INFO: %s", strerror(-rc)));
			return false;
		}
		depth_ = std::max<uint32_t>(
			1, std::min(opt_.depth, info.max_per_fd ? info.max_per_fd : opt_.depth));
		uint64_t mem = opt_.memory_size;
		if (!mem) {
			SSTResponse resp;
			if (!sync(make_request(SST_REQ_GET_INFO, user_data(0, kMarker, 0)), &resp))
				return false;
			mem = resp.payload.info.memory_size;
			units_ = std::max<uint64_t>(1, resp.payload.info.max_compute_units);
		}
		slots_ = std::min<uint64_t>(tasks_.size(), mem / job_.region_bytes());
		if (!slots_ && !tasks_.empty()) {
			check_fail(fmt("device memory (%llu bytes) holds no task region of %zu bytes",
				       (unsigned long long)mem, job_.region_bytes()));
			return false;
		}
		state_.resize(tasks_.size());
		return true;
	}

	// A COMPUTE of 0 work items costs 0 cycles: its timestamp is the
	// device's simulated time now.
	bool marker(uint64_t *ps)
	{
		SSTResponse resp;
		if (!sync(make_compute(user_data(0, kMarker, 1), 0, SST_LATENCY_DEFAULT), &resp))
			return false;
		*ps = resp.payload.compute.timestamp;
		return true;
	}

	uint64_t addr(uint32_t local, uint32_t chunk) const
	{
		return uint64_t(local % slots_) * job_.region_bytes() + chunks_[chunk].offset;
	}

	bool startable() const { return next_ < tasks_.size() && can_start(next_); }

	// A task may start once the task that last used its memory slot is done.
	bool can_start(uint32_t local) const { return local < slots_ || state_[local - slots_].done; }

	void start(uint32_t local)
	{
		TaskState &t = state_[local];
		t.want = task_region(job_, tasks_[local]);
		t.got.assign(t.want.size(), 0);
		t.pending = uint32_t(chunks_.size());
		writing_++;
		for (uint32_t c = 0; c < chunks_.size(); c++)
			ready_.push_back(user_data(local, kWrite, c));
	}

	SSTRequest build(uint64_t ud) const
	{
		const uint32_t local = uint32_t(ud >> 24 & 0xfffffff), chunk = uint32_t(ud & 0xfffff);
		const Chunk &c = chunks_[chunk];
		switch (Kind(ud >> 20 & 15)) {
		case kWrite:
			return make_write(ud, addr(local, chunk), state_[local].want.data() + c.offset,
					  c.size);
		case kCompute:
			return make_compute(ud, job_.task_macs(), job_.latency_model);
		default:
			return make_read(ud, addr(local, chunk), c.size);
		}
	}

	bool pipeline()
	{
		std::vector<SSTRequest> batch;
		batch.reserve(depth_);
		std::vector<uint64_t> uds;
		std::vector<SSTResponse> resps(depth_);
		uint32_t done = 0;
		while (done < tasks_.size() || in_flight_) {
			// Stop feeding after a failure; what is in flight is still drained.
			batch.clear();
			uds.clear();
			flush_gang();
			while (!stop_ && in_flight_ + batch.size() < depth_) {
				if (ready_.empty()) {
					if (startable())
						start(next_++);
					else
						break;
				}
				uds.push_back(ready_.front());
				ready_.pop_front();
				batch.push_back(build(uds.back()));
			}
			if (!batch.empty()) {
				uint32_t s = 0;
				const int rc =
					ch_.submit(batch.data(), uint32_t(batch.size()), nullptr, false, &s);
				if (rc && rc != -EAGAIN) {
					io_fail(fmt("SST_IOC_SUBMIT: %s", strerror(-rc)));
					stop_ = true;
					s = 0;
				}
				// What did not go in goes first next time, in order.
				for (size_t i = batch.size(); i-- > s;)
					ready_.push_front(uds[i]);
				for (uint32_t i = 0; i < s; i++)
					sent_.insert(uds[i]);
				in_flight_ += s;
				rep_.max_in_flight = std::max(rep_.max_in_flight, in_flight_);
			}
			if (!in_flight_) {
				if (stop_)
					break;
				if (batch.empty()) {
					// Nothing in flight and nothing to send: done, or a bug.
					if (done < tasks_.size())
						check_fail(fmt("pipeline stalled after %u of %zu tasks", done,
							       tasks_.size()));
					break;
				}
				if (past_deadline()) {
					io_fail("timed out: the device takes no requests");
					break;
				}
				continue;
			}
			uint32_t got = 0;
			const int rc = ch_.reap(resps.data(), uint32_t(resps.size()), 1, 1000, &got);
			if (rc) {
				io_fail(fmt("SST_IOC_REAP: %s", strerror(-rc)));
				return false;
			}
			if (!got && past_deadline()) {
				io_fail(fmt("timed out with %u requests in flight", in_flight_));
				return false;
			}
			for (uint32_t i = 0; i < got && !abort_; i++)
				done += answer(resps[i]);
			if (abort_)
				return false;
		}
		return !stop_;
	}

	// sst-sim models requests that arrive together as contending for the
	// compute units, and runs each batch it reads until idle: COMPUTEs sent
	// one at a time never overlap in simulated time. So ready COMPUTEs wait
	// until there are as many as the device has units, or until no other
	// task is writing or can start (none would join), and then go in one
	// SUBMIT.
	void flush_gang()
	{
		if (gang_.empty() || (gang_.size() < units_ && (writing_ || startable())))
			return;
		for (size_t i = gang_.size(); i-- > 0;)
			ready_.push_front(gang_[i]);
		gang_.clear();
	}

	// Handles one answer; returns 1 when it completed a task.
	uint32_t answer(const SSTResponse &r)
	{
		rep_.requests++;
		if ((r.user_data & kTagMask) != kTag || !sent_.erase(r.user_data)) {
			rep_.bad_status++;
			check_fail(
				fmt("answer for a request never sent or already answered (user_data 0x%llx)",
				    (unsigned long long)r.user_data));
			// The request it stands for may never be answered: stop
			// at once instead of draining.
			stop_ = abort_ = true;
			return 0;
		}
		in_flight_--;
		const uint32_t local = uint32_t(r.user_data >> 24 & 0xfffffff);
		const uint32_t chunk = uint32_t(r.user_data & 0xfffff);
		const Kind kind = Kind(r.user_data >> 20 & 15);
		TaskState &t = state_[local];
		const char *what = kind == kWrite ? "WRITE" : kind == kCompute ? "COMPUTE" : "READ";
		if (r.status != SST_STATUS_OK) {
			rep_.bad_status++;
			check_fail(fmt("task %u %s (chunk %u): status %s", tasks_[local], what, chunk,
				       std::string(status_name(r.status)).c_str()));
			stop_ = true;
			return 0;
		}
		if (kind == kCompute) {
			rep_.compute_cycles += r.result;
			t.pending = uint32_t(chunks_.size());
			for (uint32_t c = 0; c < chunks_.size(); c++)
				ready_.push_front(user_data(local, kRead, uint32_t(chunks_.size() - 1 - c)));
			return 0;
		}
		const Chunk &c = chunks_[chunk];
		if (r.result != c.size) {
			rep_.bad_status++;
			check_fail(fmt("task %u %s (chunk %u): result %llu, want %u bytes", tasks_[local],
				       what, chunk, (unsigned long long)r.result, c.size));
			stop_ = true;
			return 0;
		}
		if (kind == kWrite) {
			rep_.bytes_written += c.size;
			if (--t.pending == 0) {
				writing_--;
				gang_.push_back(user_data(local, kCompute, 0));
			}
			return 0;
		}
		std::memcpy(t.got.data() + c.offset, r.payload.data, c.size);
		const std::string bad =
			check_bytes(t.want.data() + c.offset, r.payload.data, c.size, addr(local, chunk));
		if (!bad.empty()) {
			for (uint32_t i = 0; i < c.size; i++)
				rep_.mismatches += t.want[c.offset + i] != r.payload.data[i];
			check_fail(fmt("task %u READ (chunk %u): ", tasks_[local], chunk) + bad);
		} else {
			rep_.bytes_verified += c.size;
		}
		if (--t.pending)
			return 0;
		// The C block from what came back must be the one from what was sent.
		if (job_.product) {
			const uint64_t p0 = monotonic_ns();
			if (c_block(job_, t.got.data()) == c_block(job_, t.want.data())) {
				rep_.blocks_verified++;
			} else {
				rep_.mismatches++;
				check_fail(fmt("task %u: C block from the read-back operands differs",
					       tasks_[local]));
			}
			rep_.product_ns += monotonic_ns() - p0;
		}
		t.done = true;
		t.want = {};
		t.got = {};
		return 1;
	}

	Channel &ch_;
	const Job &job_;
	const std::vector<uint32_t> &tasks_;
	const RunOptions &opt_;
	const std::vector<Chunk> chunks_;
	DeviceReport rep_;
	uint32_t depth_ = 1;
	uint64_t slots_ = 0;
	std::vector<TaskState> state_;
	std::deque<uint64_t> ready_;        // requests to send, in order
	std::unordered_set<uint64_t> sent_; // in flight, by user_data
	uint32_t in_flight_ = 0;
	uint64_t units_ = 1;         // compute units of the device (GET_INFO)
	uint32_t next_ = 0;          // the next task to start
	uint32_t writing_ = 0;       // tasks whose WRITEs are not all answered
	std::vector<uint64_t> gang_; // COMPUTEs held back, see flush_gang
	bool stop_ = false;          // send nothing more
	bool abort_ = false;         // do not even drain
};

} // namespace

DeviceReport run_device(Channel &ch, const Job &job, const std::vector<uint32_t> &tasks,
			const RunOptions &opt)
{
	return Runner(ch, job, tasks, opt).run();
}

} // namespace vsst::guest::offload
