// SPDX-License-Identifier: Apache-2.0
#include "dump.hpp"

#include <cinttypes>
#include <cstdio>
#include <map>
#include <vector>

namespace vsst::trace_tool {

using namespace vsst::trace;

namespace {

// Attributes global MMIO to devices: the backend announces a device's BARs
// (MMIO_REGION_CONFIG) right after a config write to that device.
class Attribution {
public:
	std::optional<unsigned> of(const Record &r)
	{
		switch (r.type) {
		case RecType::Mem:
			return r.mem().dev;
		case RecType::Avail:
			return r.avail().dev;
		case RecType::Used:
			return r.used().dev;
		case RecType::Msg:
			break;
		default:
			return std::nullopt;
		}
		const vsst_rpcmsg m = r.msg();
		const unsigned op = vsst_rpc_mr0_op(m.mr0);
		switch (op) {
		case VSST_RPC_OP_MMIO: {
			const unsigned as = vsst_rpc_mr0_as(m.mr0);
			if (as < VSST_RPC_AS_PCI_LIMIT) {
				if (r.sub == 0 && vsst_rpc_mr0_dir(m.mr0))
					last_cfg_writer_ = as;
				return as;
			}
			for (const auto &[base, e] : regions_)
				if (m.mr1 >= base && m.mr1 - base < e.first)
					return e.second;
			return std::nullopt;
		}
		case VSST_RPC_OP_MMIO_REGION_CONFIG:
			if (last_cfg_writer_) {
				regions_[m.mr1] = {m.mr2, *last_cfg_writer_};
				return *last_cfg_writer_;
			}
			return std::nullopt;
		case VSST_RPC_OP_MSI:
			return static_cast<unsigned>(m.mr3);
		case VSST_RPC_OP_SET_IRQ:
		case VSST_RPC_OP_REGISTER_PCI_DEV:
			return static_cast<unsigned>(m.mr1);
		default:
			return std::nullopt;
		}
	}

private:
	std::optional<unsigned> last_cfg_writer_;
	std::map<uint64_t, std::pair<uint64_t, unsigned>> regions_; // base -> size, device
};

std::string kind(const Record &r)
{
	if (r.type == RecType::Msg)
		return op_name(vsst_rpc_mr0_op(r.msg().mr0));
	if (r.type == RecType::SimConn)
		return "SIM";
	return rec_type_name(r.type);
}

} // namespace

void print_header(const Trace &t)
{
	const TraceHeader &h = t.header;
	std::printf("# vsst trace format %u.%u, recorded at the %s side, origin: %s\n", h.major, h.minor,
		    h.side == Side::Proxy ? "proxy" : "device", h.origin.empty() ? "-" : h.origin.c_str());
	for (const RamRegion &r : h.ram)
		std::printf("# ram gpa=0x%" PRIx64 " size=0x%" PRIx64 "\n", r.gpa, r.size);
	std::string args;
	for (const std::string &a : h.qemu_args)
		args += " " + a;
	std::printf("# device VM args:%s\n", args.c_str());
	for (const ImageInfo &i : h.images)
		std::printf("# image %s size=%" PRIu64 " fnv1a64=0x%016" PRIx64 "\n", i.name.c_str(), i.size,
			    i.hash);
	for (const NondetInfo &n : h.nondet)
		std::printf("# nondeterministic %04x:%04x queues 0x%x\n", n.vendor, n.device, n.queue_mask);
	static const char *const protos[] = {"none", "framed", "acalsim"};
	std::printf("# simulator protocol: %s\n", protos[h.sim_protocol]);
	for (const std::string &n : h.notes)
		std::printf("# note: %s\n", n.c_str());
	if (!t.complete)
		std::printf("# WARNING: no END record (the recorder did not close the trace)\n");
}

int dump(const Trace &t, const DumpFilter &f)
{
	if (f.header)
		print_header(t);
	Attribution attr;
	uint64_t shown = 0;
	for (const Record &r : t.records) {
		const std::optional<unsigned> dev = attr.of(r); // always fed, keeps its state
		if (r.index < f.from || r.index > f.to)
			continue;
		if (f.dev && dev != f.dev)
			continue;
		if (!f.ops.empty() && !f.ops.count(kind(r)))
			continue;
		if (shown++ >= f.limit)
			break;
		std::printf("%s\n", describe(t, r).c_str());
	}
	return 0;
}

int stats(const Trace &t, const std::string &path)
{
	print_header(t);
	std::map<std::string, std::pair<uint64_t, uint64_t>> by_kind; // count, bytes
	std::map<std::pair<unsigned, unsigned>, uint64_t> used_per_queue;
	uint64_t sim_bytes[2] = {0, 0}, mem_bytes = 0, dropped = 0, anomalies = 0, msgs = 0;
	for (const Record &r : t.records) {
		auto &k = by_kind[(r.type == RecType::Msg ? std::string("MSG ") : std::string()) + kind(r)];
		k.first++;
		k.second += kRecordHeader + r.payload.size();
		if (r.type == RecType::Msg)
			msgs++;
		if (r.type == RecType::Used)
			used_per_queue[{r.used().dev, r.used().queue}]++;
		if (r.type == RecType::Sim)
			sim_bytes[r.sub] += r.payload.size();
		if (r.type == RecType::Mem)
			mem_bytes += r.mem().len;
		if (r.type == RecType::Dropped)
			dropped += r.dropped().records;
		if (r.type == RecType::Note && r.sub == 1)
			anomalies++;
	}
	const double secs = t.records.empty() ? 0 : static_cast<double>(t.records.back().t_ns) / 1e9;
	std::printf("file %s: %" PRIu64 " bytes, %zu records (%" PRIu64 " channel messages) over %.3f s%s\n",
		    path.c_str(), t.file_size, t.records.size(), msgs, secs,
		    t.complete ? "" : " (truncated)");
	std::printf("%-26s %10s %12s\n", "kind", "records", "bytes");
	for (const auto &[k, v] : by_kind)
		std::printf("%-26s %10" PRIu64 " %12" PRIu64 "\n", k.c_str(), v.first, v.second);
	for (const auto &[dq, n] : used_per_queue)
		std::printf("used elements dev %u queue %u: %" PRIu64 "\n", dq.first, dq.second, n);
	std::printf("driver-written bytes captured: %" PRIu64 "; simulator bytes dev->sim %" PRIu64
		    ", sim->dev %" PRIu64 "\n",
		    mem_bytes, sim_bytes[0], sim_bytes[1]);
	std::printf("dropped records: %" PRIu64 "; tap anomalies: %" PRIu64 "\n", dropped, anomalies);
	return 0;
}

} // namespace vsst::trace_tool
