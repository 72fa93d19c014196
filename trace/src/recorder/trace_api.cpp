// SPDX-License-Identifier: Apache-2.0
// The recorder's C interface (vsst/trace.h). No exception leaves here.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "guest_ram.hpp"
#include "sim_relay.hpp"
#include "virtio_tap.hpp"
#include "vsst/trace.h"
#include "writer.hpp"

using namespace vsst::trace;

struct vsst_trace {
	std::unique_ptr<Writer> writer;
	GuestRam ram;
	std::unique_ptr<VirtioTap> tap;
	std::unique_ptr<SimRelay> relay;
	std::mutex mu; // serialises the tap and keeps a message next to what it revealed
};

namespace {

void put_err(char *err, size_t errlen, const std::string &msg)
{
	if (err && errlen)
		std::snprintf(err, errlen, "%s", msg.c_str());
}

void tlv(std::vector<uint8_t> &h, Tag tag, const void *p, size_t n)
{
	const uint16_t t = static_cast<uint16_t>(tag), z = 0;
	const uint32_t len = static_cast<uint32_t>(n);
	const auto *b = static_cast<const uint8_t *>(p);
	h.insert(h.end(), reinterpret_cast<const uint8_t *>(&t), reinterpret_cast<const uint8_t *>(&t) + 2);
	h.insert(h.end(), reinterpret_cast<const uint8_t *>(&z), reinterpret_cast<const uint8_t *>(&z) + 2);
	h.insert(h.end(), reinterpret_cast<const uint8_t *>(&len),
		 reinterpret_cast<const uint8_t *>(&len) + 4);
	h.insert(h.end(), b, b + n);
}

void tlv_str(std::vector<uint8_t> &h, Tag tag, const char *s)
{
	if (s)
		tlv(h, tag, s, std::strlen(s));
}

// Size and FNV-1a of a file, read once.
int fingerprint(const char *path, uint64_t &size, uint64_t &hash)
{
	const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	std::vector<uint8_t> buf(1 << 20);
	size = 0;
	hash = 0xcbf29ce484222325ull;
	for (;;) {
		const ssize_t n = ::read(fd, buf.data(), buf.size());
		if (n < 0) {
			if (errno == EINTR)
				continue;
			const int e = errno;
			::close(fd);
			return -e;
		}
		if (n == 0)
			break;
		hash = fnv1a64(buf.data(), static_cast<size_t>(n), hash);
		size += static_cast<uint64_t>(n);
	}
	::close(fd);
	return 0;
}

bool build_header(const vsst_trace_config &c, std::vector<uint8_t> &h, std::string &why)
{
	if (c.side > 1) {
		why = "side must be VSST_TRACE_SIDE_PROXY or _DEVICE";
		return false;
	}
	FileHeader fh{};
	std::memcpy(fh.magic, kMagic, sizeof kMagic);
	fh.major = kMajor;
	fh.minor = kMinor;
	fh.start_unix_ns = realtime_ns();
	fh.side = c.side;
	h.resize(sizeof fh);
	std::memcpy(h.data(), &fh, sizeof fh);
	tlv_str(h, Tag::Origin, c.origin);
	if (c.ram) {
		if (c.ram->count == 0 || c.ram->count > kMaxRamRegions) {
			why = "bad RAM layout";
			return false;
		}
		for (uint32_t i = 0; i < c.ram->count; i++) {
			const uint64_t r[2] = {c.ram->region[i].gpa, c.ram->region[i].size};
			tlv(h, Tag::Ram, r, sizeof r);
		}
	}
	for (unsigned i = 0; i < c.n_qemu_args; i++)
		if (c.qemu_args && c.qemu_args[i])
			tlv_str(h, Tag::QemuArg, c.qemu_args[i]);
	for (unsigned i = 0; i < c.n_images; i++) {
		const vsst_trace_image &im = c.images[i];
		if (!im.name || !im.path) {
			why = "image without name or path";
			return false;
		}
		uint64_t size = 0, hash = 0;
		const int r = fingerprint(im.path, size, hash);
		if (r < 0) {
			why = std::string("reading image ") + im.path + ": " + std::strerror(-r);
			return false;
		}
		std::vector<uint8_t> v(16 + std::strlen(im.name));
		std::memcpy(v.data(), &size, 8);
		std::memcpy(v.data() + 8, &hash, 8);
		std::memcpy(v.data() + 16, im.name, std::strlen(im.name));
		tlv(h, Tag::Image, v.data(), v.size());
	}
	auto nondet = [&](uint16_t vendor, uint16_t device, uint32_t mask) {
		uint8_t v[8];
		std::memcpy(v, &vendor, 2);
		std::memcpy(v + 2, &device, 2);
		std::memcpy(v + 4, &mask, 4);
		tlv(h, Tag::Nondet, v, sizeof v);
	};
	if (c.nondet) {
		for (unsigned i = 0; i < c.n_nondet; i++)
			nondet(c.nondet[i].vendor, c.nondet[i].device, c.nondet[i].queue_mask);
	} else {
		nondet(0x1af4, 0x1044, 1); // virtio-rng (modern)
		nondet(0x1af4, 0x1005, 1); // virtio-rng (transitional)
	}
	const uint32_t proto = c.sim_protocol;
	tlv(h, Tag::SimProto, &proto, sizeof proto);
	tlv_str(h, Tag::Note, c.note);
	if (h.size() > kMaxHeader) {
		why = "header too large";
		return false;
	}
	const uint32_t size = static_cast<uint32_t>(h.size());
	std::memcpy(h.data() + offsetof(FileHeader, header_size), &size, 4);
	return true;
}

std::vector<NondetRule> rules_of(const std::vector<uint8_t> &h)
{
	std::vector<NondetRule> out;
	size_t off = kFixedHeader;
	while (off + 8 <= h.size()) {
		uint16_t tag;
		uint32_t len;
		std::memcpy(&tag, &h[off], 2);
		std::memcpy(&len, &h[off + 4], 4);
		if (tag == static_cast<uint16_t>(Tag::Nondet) && len == 8) {
			NondetRule r;
			std::memcpy(&r.vendor, &h[off + 8], 2);
			std::memcpy(&r.device, &h[off + 10], 2);
			std::memcpy(&r.queue_mask, &h[off + 12], 4);
			out.push_back(r);
		}
		off += 8 + len;
	}
	return out;
}

} // namespace

extern "C" {

vsst_trace *vsst_trace_open_fd(int fd, const struct vsst_trace_config *cfg, char *err, size_t errlen)
{
	if (fd < 0 || !cfg) {
		put_err(err, errlen, "bad argument");
		if (fd >= 0)
			::close(fd);
		return nullptr;
	}
	try {
		std::vector<uint8_t> h;
		std::string why;
		if (!build_header(*cfg, h, why)) {
			put_err(err, errlen, why);
			::close(fd);
			return nullptr;
		}
		auto t = std::make_unique<vsst_trace>();
		if (cfg->ram) {
			const int r = t->ram.map(*cfg->ram);
			if (r < 0) {
				put_err(err, errlen, std::string("mapping guest RAM: ") + std::strerror(-r));
				::close(fd);
				return nullptr;
			}
		}
		const std::vector<NondetRule> rules = rules_of(h);
		t->writer = std::make_unique<Writer>(fd, std::move(h),
						     cfg->budget_bytes ? cfg->budget_bytes : (64ull << 20));
		if (!t->ram.empty())
			t->tap = std::make_unique<VirtioTap>(*t->writer, t->ram, rules);
		return t.release();
	} catch (...) {
		put_err(err, errlen, "out of memory");
		return nullptr;
	}
}

vsst_trace *vsst_trace_open(const char *path, const struct vsst_trace_config *cfg, char *err, size_t errlen)
{
	if (!path || !cfg) {
		put_err(err, errlen, "bad argument");
		return nullptr;
	}
	const int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		put_err(err, errlen, std::string("open ") + path + ": " + std::strerror(errno));
		return nullptr;
	}
	return vsst_trace_open_fd(fd, cfg, err, errlen);
}

int vsst_trace_close(vsst_trace *t)
{
	if (!t)
		return 0;
	if (t->relay)
		t->relay->stop();
	const int r = t->writer->finish();
	delete t;
	return r;
}

void vsst_trace_on_message(void *opaque, int dir, int ring, const struct vsst_rpcmsg *msg)
{
	auto *t = static_cast<vsst_trace *>(opaque);
	if (!t || !msg || ring < 0 || ring > 2 || dir < 0 || dir > 1)
		return;
	try {
		std::lock_guard<std::mutex> lk(t->mu);
		MsgRec r{{msg->mr0, msg->mr1, msg->mr2, msg->mr3}};
		// A request (a doorbell) is preceded by the memory the driver
		// published before it; a completion or an event is followed by
		// what it revealed. A replay then only has to follow the order.
		if (ring == 0 && t->tap)
			t->tap->on_message(ring, *msg);
		t->writer->append(RecType::Msg, static_cast<uint8_t>(ring), static_cast<uint16_t>(dir),
				  {{&r, sizeof r}});
		if (ring != 0 && t->tap)
			t->tap->on_message(ring, *msg);
	} catch (...) {
	}
}

void vsst_trace_observe(vsst_trace *t, vsst_rpc *ch)
{
	if (t && ch)
		vsst_rpc_set_observer(ch, vsst_trace_on_message, t);
}

void vsst_trace_sim_connected(vsst_trace *t, unsigned conn)
{
	if (t)
		t->writer->append(RecType::SimConn, 0, static_cast<uint16_t>(conn), {});
}

void vsst_trace_sim_closed(vsst_trace *t, unsigned conn)
{
	if (t)
		t->writer->append(RecType::SimConn, 1, static_cast<uint16_t>(conn), {});
}

void vsst_trace_sim_data(vsst_trace *t, unsigned conn, int dir, const void *data, size_t len)
{
	if (!t || !data || (dir != 0 && dir != 1))
		return;
	const auto *p = static_cast<const uint8_t *>(data);
	while (len) {
		const size_t n = std::min<size_t>(len, kMaxBlob);
		t->writer->append(RecType::Sim, static_cast<uint8_t>(dir), static_cast<uint16_t>(conn),
				  {{p, n}});
		p += n;
		len -= n;
	}
}

int vsst_trace_sim_relay_start(vsst_trace *t, const char *listen_path, const char *sim_path)
{
	if (!t || !listen_path || !sim_path || t->relay)
		return -EINVAL;
	try {
		t->relay = std::make_unique<SimRelay>(
			[t](unsigned c, bool open) {
				open ? vsst_trace_sim_connected(t, c) : vsst_trace_sim_closed(t, c);
			},
			[t](unsigned c, int dir, const void *p, size_t n) {
				vsst_trace_sim_data(t, c, dir, p, n);
			});
		const int r = t->relay->start(listen_path, sim_path);
		if (r < 0)
			t->relay.reset();
		return r;
	} catch (...) {
		return -ENOMEM;
	}
}

void vsst_trace_note(vsst_trace *t, const char *text)
{
	if (t && text)
		t->writer->append(RecType::Note, 0, 0, {{text, std::strlen(text)}});
}

void vsst_trace_sync(vsst_trace *t)
{
	if (!t || !t->tap)
		return;
	try {
		std::lock_guard<std::mutex> lk(t->mu);
		t->tap->sync_all();
	} catch (...) {
	}
}

void vsst_trace_get_stats(vsst_trace *t, struct vsst_trace_stats *out)
{
	if (!t || !out)
		return;
	const WriterStats s = t->writer->stats();
	out->records = s.records;
	out->bytes = s.bytes;
	out->dropped_records = s.dropped_records;
	out->dropped_bytes = s.dropped_bytes;
	out->write_error = s.write_error;
	std::lock_guard<std::mutex> lk(t->mu);
	out->tap_anomalies = t->tap ? t->tap->anomalies() : 0;
}

void vsst_trace_device_used(vsst_trace *t, unsigned dev, unsigned queue, uint16_t pos, uint32_t head,
			    uint32_t len)
{
	if (!t || !t->tap)
		return;
	try {
		std::lock_guard<std::mutex> lk(t->mu);
		t->tap->device_used(dev, queue, pos, head, len);
	} catch (...) {
	}
}

} // extern "C"
