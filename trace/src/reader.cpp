// SPDX-License-Identifier: Apache-2.0
#include "vsst/trace/reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace vsst::trace {

namespace {

template <class T> T load(const uint8_t *p)
{
	T v;
	std::memcpy(&v, p, sizeof v);
	return v;
}

constexpr size_t kMaxString = 4096;
constexpr size_t kMaxNote = 64u << 10;

bool good_string(std::span<const uint8_t> s, size_t max)
{
	if (s.size() > max)
		return false;
	for (uint8_t c : s)
		if (c == 0)
			return false;
	return true;
}

std::string as_string(std::span<const uint8_t> s)
{
	return std::string(reinterpret_cast<const char *>(s.data()), s.size());
}

struct Parser {
	std::span<const uint8_t> d;
	Trace &t;
	ParseError &e;

	bool fail(size_t off, int64_t rec, std::string what)
	{
		e.offset = off;
		e.record = rec;
		e.what = std::move(what);
		return false;
	}

	bool in_ram(uint64_t gpa, uint64_t len) const
	{
		if (gpa + len < gpa)
			return false;
		for (const RamRegion &r : t.header.ram)
			if (gpa >= r.gpa && gpa - r.gpa <= r.size && len <= r.size - (gpa - r.gpa))
				return true;
		return false;
	}

	bool header()
	{
		if (d.size() < kFixedHeader)
			return fail(0, -1,
				    "file shorter than the fixed header (" + std::to_string(d.size()) +
					    " bytes)");
		const FileHeader fh = load<FileHeader>(d.data());
		if (std::memcmp(fh.magic, kMagic, sizeof kMagic) != 0)
			return fail(0, -1, "bad magic (not a vsst trace)");
		if (fh.major != kMajor)
			return fail(8, -1,
				    "unsupported format version " + std::to_string(fh.major) + "." +
					    std::to_string(fh.minor) +
					    " (this reader: " + std::to_string(kMajor) + ".x)");
		if (fh.header_size < kFixedHeader || fh.header_size > kMaxHeader || fh.header_size > d.size())
			return fail(12, -1,
				    "header size " + std::to_string(fh.header_size) + " out of range");
		if (fh.side > 1)
			return fail(24, -1, "bad side " + std::to_string(fh.side));
		TraceHeader &h = t.header;
		h.major = fh.major;
		h.minor = fh.minor;
		h.start_unix_ns = fh.start_unix_ns;
		h.side = static_cast<Side>(fh.side);
		h.flags = fh.flags;
		h.size = fh.header_size;
		bool have_proto = false;
		size_t off = kFixedHeader;
		while (off < fh.header_size) {
			if (fh.header_size - off < 8)
				return fail(off, -1, "truncated header item");
			const uint16_t tag = load<uint16_t>(&d[off]);
			const uint16_t zero = load<uint16_t>(&d[off + 2]);
			const uint32_t len = load<uint32_t>(&d[off + 4]);
			if (zero != 0)
				return fail(off, -1, "header item reserved field not zero");
			if (len > fh.header_size - off - 8)
				return fail(off, -1, "header item longer than the header");
			const std::span<const uint8_t> v = d.subspan(off + 8, len);
			switch (static_cast<Tag>(tag)) {
			case Tag::Origin:
			case Tag::QemuArg:
			case Tag::Note:
				if (!good_string(v, tag == static_cast<uint16_t>(Tag::Note) ? kMaxNote
											    : kMaxString))
					return fail(off, -1,
						    "bad string in header item " + std::to_string(tag));
				if (tag == static_cast<uint16_t>(Tag::Origin))
					h.origin = as_string(v);
				else if (tag == static_cast<uint16_t>(Tag::QemuArg))
					h.qemu_args.push_back(as_string(v));
				else
					h.notes.push_back(as_string(v));
				break;
			case Tag::Ram: {
				if (len != 16)
					return fail(off, -1, "RAM item must be 16 bytes");
				RamRegion r{load<uint64_t>(v.data()), load<uint64_t>(v.data() + 8)};
				if (r.size == 0 || r.gpa + r.size < r.gpa || (r.gpa | r.size) & 0xfff)
					return fail(off, -1,
						    "RAM region empty, wrapping or not page aligned");
				for (const RamRegion &o : h.ram)
					if (r.gpa < o.gpa + o.size && o.gpa < r.gpa + r.size)
						return fail(off, -1, "RAM regions overlap");
				if (h.ram.size() == kMaxRamRegions)
					return fail(off, -1, "more than 8 RAM regions");
				h.ram.push_back(r);
				break;
			}
			case Tag::Image: {
				if (len < 17 || !good_string(v.subspan(16), 255))
					return fail(off, -1, "bad image item");
				ImageInfo im{as_string(v.subspan(16)), load<uint64_t>(v.data()),
					     load<uint64_t>(v.data() + 8)};
				if (im.name.find('/') != std::string::npos || im.name == "." ||
				    im.name == "..")
					return fail(off, -1, "image name must be a plain file name");
				h.images.push_back(im);
				break;
			}
			case Tag::Nondet:
				if (len != 8)
					return fail(off, -1, "nondet item must be 8 bytes");
				h.nondet.push_back({load<uint16_t>(v.data()), load<uint16_t>(v.data() + 2),
						    load<uint32_t>(v.data() + 4)});
				break;
			case Tag::SimProto:
				if (len != 4 || load<uint32_t>(v.data()) > 2)
					return fail(off, -1, "bad simulator protocol item");
				h.sim_protocol = load<uint32_t>(v.data());
				have_proto = true;
				break;
			default:
				// Unknown items are skipped: a later minor version may add some.
				break;
			}
			off += 8 + len;
		}
		(void)have_proto;
		return true;
	}

	bool record(Record &r, int64_t idx)
	{
		const size_t off = r.offset;
		const size_t n = r.payload.size();
		auto bad = [&](const std::string &what) {
			return fail(off, idx, rec_type_name(r.type) + ": " + what);
		};
		switch (r.type) {
		case RecType::Msg: {
			if (n != sizeof(MsgRec))
				return bad("payload must be 32 bytes");
			if (r.sub > 2 || r.aux > 1)
				return bad("bad ring or direction");
			break;
		}
		case RecType::Mem: {
			if (n < sizeof(MemHdr) || r.sub != 0 || r.aux != 0)
				return bad("short payload or bad flags");
			const MemHdr h = r.mem();
			if (h.len != n - sizeof(MemHdr) || h.len == 0 || h.len > kMaxBlob)
				return bad("length " + std::to_string(h.len) + " does not match the payload");
			if (h.queue >= 64 || h.dev >= 240)
				return bad("bad device or queue");
			if (!in_ram(h.gpa, h.len))
				return bad("guest range outside the RAM layout");
			break;
		}
		case RecType::Avail: {
			if (n != sizeof(AvailRec) || r.sub || r.aux)
				return bad("payload must be 24 bytes");
			const AvailRec a = r.avail();
			if (a.late > 1 || a.queue >= 64 || a.dev >= 240 || a.count == 0 || a.count > 32768 ||
			    (a.notify_len != 0 && a.notify_len != 2 && a.notify_len != 4))
				return bad("bad fields");
			break;
		}
		case RecType::Used: {
			if (n < sizeof(UsedHdr) || r.sub || r.aux)
				return bad("short payload");
			const UsedHdr h = r.used();
			if (h.nseg > kMaxSegments || h.flags > 3 || h.queue >= 64 || h.dev >= 240)
				return bad("bad fields");
			if (h.qsize == 0 || (h.qsize & (h.qsize - 1)) || h.qsize > 32768)
				return bad("queue size not a power of two");
			if (n != sizeof(UsedHdr) + h.nseg * sizeof(UsedSeg) + static_cast<size_t>(h.data_len))
				return bad("segment/data lengths do not match the payload");
			if (!in_ram(h.used_gpa, 4 + 8ull * h.qsize))
				return bad("used ring outside the RAM layout");
			uint64_t total = 0;
			for (const UsedSeg &s : r.used_segs()) {
				if (!in_ram(s.gpa, s.len))
					return bad("in-buffer outside the RAM layout");
				total += s.len;
			}
			if (h.data_len > total || h.data_len > h.len || h.data_len > kMaxBlob)
				return bad("more data than the in-buffers hold");
			if ((h.flags & kUsedNondet) && h.data_len)
				return bad("data recorded for a nondeterministic queue");
			break;
		}
		case RecType::Sim:
			if (r.sub > 1 || n == 0 || n > kMaxBlob)
				return bad("bad direction or size");
			break;
		case RecType::SimConn:
			if (r.sub > 1 || n != 0)
				return bad("bad fields");
			break;
		case RecType::Dropped:
			if (n != sizeof(DroppedRec) || r.dropped().records == 0)
				return bad("bad payload");
			break;
		case RecType::Note:
			if (r.sub > 1 || !good_string(r.payload, kMaxNote))
				return bad("bad text");
			break;
		case RecType::End:
			if (n != sizeof(EndRec))
				return bad("bad payload");
			break;
		default:
			return fail(off, idx,
				    "unknown record type " + std::to_string(static_cast<unsigned>(r.type)));
		}
		return true;
	}

	bool run(bool allow_truncated)
	{
		if (!header())
			return false;
		size_t off = t.header.size;
		uint64_t last_t = 0;
		while (off < d.size()) {
			const int64_t idx = static_cast<int64_t>(t.records.size());
			if (t.complete)
				return fail(off, idx, "data after the END record");
			if (d.size() - off < kRecordHeader) {
				if (allow_truncated)
					break;
				return fail(off, idx, "truncated record header");
			}
			const RecHeader rh = load<RecHeader>(&d[off]);
			if (rh.size < kRecordHeader || rh.size > kMaxRecord)
				return fail(off, idx,
					    "record size " + std::to_string(rh.size) + " out of range");
			if (rh.size > d.size() - off) {
				if (allow_truncated)
					break;
				return fail(off, idx, "record runs past the end of the file");
			}
			if (rh.type == 0 || rh.type > kRecTypeMax)
				return fail(off, idx, "unknown record type " + std::to_string(rh.type));
			if (rh.t_ns < last_t)
				return fail(off, idx, "timestamp goes backwards");
			last_t = rh.t_ns;
			Record r;
			r.index = static_cast<uint64_t>(idx);
			r.offset = off;
			r.type = static_cast<RecType>(rh.type);
			r.sub = rh.sub;
			r.aux = rh.aux;
			r.t_ns = rh.t_ns;
			r.payload = d.subspan(off + kRecordHeader, rh.size - kRecordHeader);
			if (!record(r, idx))
				return false;
			if (r.type == RecType::End) {
				const EndRec e = r.end();
				if (e.records != t.records.size() + 1 || e.bytes != off + rh.size)
					return fail(off, idx,
						    "END totals do not match the file (records " +
							    std::to_string(e.records) + ", bytes " +
							    std::to_string(e.bytes) + ")");
				t.complete = true;
			}
			t.records.push_back(r);
			off += rh.size;
		}
		if (!t.complete && !allow_truncated)
			return fail(off, static_cast<int64_t>(t.records.size()),
				    "no END record (truncated trace)");
		return true;
	}
};

} // namespace

std::string ParseError::str() const
{
	std::string s = "trace invalid at byte " + std::to_string(offset);
	if (record >= 0)
		s += " (record #" + std::to_string(record) + ")";
	else
		s += " (header)";
	return s + ": " + what;
}

vsst_rpcmsg Record::msg() const
{
	const MsgRec m = load<MsgRec>(payload.data());
	return {m.mr[0], m.mr[1], m.mr[2], m.mr[3]};
}
MemHdr Record::mem() const
{
	return load<MemHdr>(payload.data());
}
std::span<const uint8_t> Record::mem_data() const
{
	return payload.subspan(sizeof(MemHdr));
}
AvailRec Record::avail() const
{
	return load<AvailRec>(payload.data());
}
UsedHdr Record::used() const
{
	return load<UsedHdr>(payload.data());
}
std::vector<UsedSeg> Record::used_segs() const
{
	const UsedHdr h = used();
	std::vector<UsedSeg> v(h.nseg);
	if (h.nseg)
		std::memcpy(v.data(), payload.data() + sizeof(UsedHdr), h.nseg * sizeof(UsedSeg));
	return v;
}
std::span<const uint8_t> Record::used_data() const
{
	const UsedHdr h = used();
	return payload.subspan(sizeof(UsedHdr) + h.nseg * sizeof(UsedSeg), h.data_len);
}
DroppedRec Record::dropped() const
{
	return load<DroppedRec>(payload.data());
}
EndRec Record::end() const
{
	return load<EndRec>(payload.data());
}
std::string Record::text() const
{
	return as_string(payload);
}

bool parse_trace(std::span<const uint8_t> data, Trace &out, ParseError &err, bool allow_truncated)
{
	out = Trace{};
	out.bytes.assign(data.begin(), data.end());
	out.file_size = data.size();
	Parser p{std::span<const uint8_t>(out.bytes), out, err};
	if (!p.run(allow_truncated)) {
		out.records.clear();
		return false;
	}
	return true;
}

bool load_trace(const std::string &path, Trace &out, ParseError &err, bool allow_truncated)
{
	const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = {0, -1, "open " + path + ": " + std::strerror(errno)};
		return false;
	}
	struct stat st {};
	if (::fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (int64_t{4} << 30)) {
		::close(fd);
		err = {0, -1, path + ": not a regular file of at most 4 GiB"};
		return false;
	}
	std::vector<uint8_t> buf(static_cast<size_t>(st.st_size));
	size_t got = 0;
	while (got < buf.size()) {
		const ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += static_cast<size_t>(n);
	}
	::close(fd);
	buf.resize(got);
	return parse_trace(buf, out, err, allow_truncated);
}

std::string op_name(unsigned op)
{
	switch (op) {
	case VSST_RPC_OP_MMIO:
		return "MMIO";
	case VSST_RPC_OP_SET_IRQ:
		return "SET_IRQ";
	case VSST_RPC_OP_START_VM:
		return "START_VM";
	case VSST_RPC_OP_REGISTER_PCI_DEV:
		return "REGISTER_PCI_DEV";
	case VSST_RPC_OP_MMIO_REGION_CONFIG:
		return "MMIO_REGION_CONFIG";
	case VSST_RPC_OP_MSI:
		return "MSI";
	case VSST_RPC_OP_HELLO:
		return "HELLO";
	case VSST_RPC_OP_STOP:
		return "STOP";
	default:
		return "OP" + std::to_string(op);
	}
}

std::string rec_type_name(RecType t)
{
	switch (t) {
	case RecType::Msg:
		return "MSG";
	case RecType::Mem:
		return "MEM";
	case RecType::Avail:
		return "AVAIL";
	case RecType::Used:
		return "USED";
	case RecType::Sim:
		return "SIM";
	case RecType::SimConn:
		return "SIMCONN";
	case RecType::Dropped:
		return "DROPPED";
	case RecType::Note:
		return "NOTE";
	case RecType::End:
		return "END";
	}
	return "TYPE" + std::to_string(static_cast<unsigned>(t));
}

namespace {

std::string hexbytes(std::span<const uint8_t> b, size_t max)
{
	std::string s;
	char tmp[4];
	for (size_t i = 0; i < b.size() && i < max; i++) {
		std::snprintf(tmp, sizeof tmp, "%02x", b[i]);
		s += tmp;
	}
	if (b.size() > max)
		s += "..";
	return s;
}

std::string as_name(unsigned as)
{
	if (as == VSST_RPC_AS_GLOBAL)
		return "glob";
	if (as == VSST_RPC_AS_IOPORT)
		return "io";
	if (as == VSST_RPC_AS_TIME)
		return "time"; // synchronized time: addr = guest ns, data = next ns
	return "cfg" + std::to_string(as);
}

} // namespace

std::string describe([[maybe_unused]] const Trace &t, const Record &r)
{
	char buf[512];
	const double secs = static_cast<double>(r.t_ns) / 1e9;
	std::string s;
	std::snprintf(buf, sizeof buf, "#%" PRIu64 " t=%.6f ", r.index, secs);
	s = buf;
	switch (r.type) {
	case RecType::Msg: {
		static const char *const rings[] = {"req", "cpl", "evt"};
		const vsst_rpcmsg m = r.msg();
		const unsigned op = vsst_rpc_mr0_op(m.mr0);
		const bool sent = r.aux == 0;
		// Arrows show where the message travels: "->" towards the device.
		(void)sent;
		s += std::string(r.sub == 0 ? "-> " : "<- ") + rings[r.sub] + " " + op_name(op);
		if (op == VSST_RPC_OP_MMIO) {
			std::snprintf(buf, sizeof buf, " %s as=%s addr=0x%" PRIx64 " len=%u",
				      vsst_rpc_mr0_dir(m.mr0) ? "W" : "R",
				      as_name(vsst_rpc_mr0_as(m.mr0)).c_str(), m.mr1,
				      vsst_rpc_mr0_len(m.mr0));
			s += buf;
			if (r.sub == 0 ? vsst_rpc_mr0_dir(m.mr0) : !vsst_rpc_mr0_dir(m.mr0)) {
				std::snprintf(buf, sizeof buf, " data=0x%" PRIx64, m.mr2);
				s += buf;
			}
			if (vsst_rpc_mr0_posted(m.mr0))
				s += " posted";
			if (m.mr0 & VSST_RPC_MR0_ERROR)
				s += " ERROR";
			std::snprintf(buf, sizeof buf, " slot=%u", vsst_rpc_mr0_slot(m.mr0));
			s += buf;
		} else if (op == VSST_RPC_OP_MSI) {
			std::snprintf(buf, sizeof buf, " dev=%" PRIu64 " addr=0x%" PRIx64 " data=0x%" PRIx64,
				      m.mr3, m.mr1, m.mr2);
			s += buf;
		} else if (op == VSST_RPC_OP_SET_IRQ) {
			std::snprintf(buf, sizeof buf, " dev=%" PRIu64 " level=%" PRIu64, m.mr1, m.mr2);
			s += buf;
		} else if (op == VSST_RPC_OP_REGISTER_PCI_DEV) {
			std::snprintf(buf, sizeof buf,
				      " dev=%" PRIu64 " id=%04" PRIx64 ":%04" PRIx64 " class=0x%06" PRIx64,
				      m.mr1, m.mr2 >> 16, m.mr2 & 0xffff, m.mr3);
			s += buf;
		} else if (op == VSST_RPC_OP_MMIO_REGION_CONFIG) {
			std::snprintf(buf, sizeof buf,
				      " base=0x%" PRIx64 " size=0x%" PRIx64 " flags=%" PRIu64, m.mr1, m.mr2,
				      m.mr3);
			s += buf;
		} else if (op == VSST_RPC_OP_HELLO || op == VSST_RPC_OP_STOP) {
			std::snprintf(buf, sizeof buf, " %" PRIu64 " %" PRIu64, m.mr1, m.mr2);
			s += buf;
		}
		break;
	}
	case RecType::Mem: {
		const MemHdr h = r.mem();
		std::snprintf(buf, sizeof buf, "MEM dev=%u q=%u gpa=0x%" PRIx64 " len=%u ", h.dev, h.queue,
			      h.gpa, h.len);
		s += buf + hexbytes(r.mem_data(), 24);
		break;
	}
	case RecType::Avail: {
		const AvailRec a = r.avail();
		std::snprintf(buf, sizeof buf, "AVAIL dev=%u q=%u idx=%u new=%u%s notify=0x%" PRIx64, a.dev,
			      a.queue, a.idx, a.count, a.late ? " late" : "", a.notify_addr);
		s += buf;
		break;
	}
	case RecType::Used: {
		const UsedHdr h = r.used();
		std::snprintf(buf, sizeof buf, "USED dev=%u q=%u pos=%u id=%u len=%u segs=%u%s%s ", h.dev,
			      h.queue, h.pos, h.id, h.len, h.nseg, (h.flags & kUsedNondet) ? " nondet" : "",
			      (h.flags & kUsedUnknown) ? " unknown-id" : "");
		s += buf + hexbytes(r.used_data(), 24);
		break;
	}
	case RecType::Sim:
		std::snprintf(buf, sizeof buf, "SIM conn=%u %s len=%zu ", r.aux,
			      r.sub ? "sim->dev" : "dev->sim", r.payload.size());
		s += buf + hexbytes(r.payload, 24);
		break;
	case RecType::SimConn:
		std::snprintf(buf, sizeof buf, "SIMCONN conn=%u %s", r.aux, r.sub ? "closed" : "connected");
		s += buf;
		break;
	case RecType::Dropped: {
		const DroppedRec d = r.dropped();
		std::snprintf(buf, sizeof buf, "DROPPED %" PRIu64 " records (%" PRIu64 " bytes) over budget",
			      d.records, d.bytes);
		s += buf;
		break;
	}
	case RecType::Note:
		s += std::string(r.sub ? "NOTE anomaly: " : "NOTE ") + r.text();
		break;
	case RecType::End: {
		const EndRec e = r.end();
		std::snprintf(buf, sizeof buf, "END records=%" PRIu64 " dropped=%" PRIu64 " bytes=%" PRIu64,
			      e.records, e.dropped, e.bytes);
		s += buf;
		break;
	}
	}
	return s;
}

} // namespace vsst::trace
