// SPDX-License-Identifier: Apache-2.0
#include "vsst/virtio/rpc_platform.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "vsst/devvm/handshake.h"
#include "vsst/virtio/error.h"

namespace vsst::virtio {

namespace {
constexpr uint64_t kMsiAddress = 0xfee00000ull;
constexpr unsigned kMsiVectors = 32;
constexpr auto kPumpSlice = std::chrono::milliseconds(50);

} // namespace

class RpcGuest::Config final : public ConfigAccessor {
public:
	Config(RpcGuest &g, unsigned index) : g_(g), index_(index) {}
	uint32_t read(unsigned offset, unsigned len) override
	{
		return static_cast<uint32_t>(g_.access(index_, offset, len, VSST_RPC_DIR_READ, 0));
	}
	void write(unsigned offset, unsigned len, uint32_t value) override
	{
		g_.access(index_, offset, len, VSST_RPC_DIR_WRITE, value);
	}

private:
	RpcGuest &g_;
	unsigned index_;
};

class RpcGuest::Mmio final : public MemoryAccessor {
public:
	explicit Mmio(RpcGuest &g) : g_(g) {}
	uint64_t read(uint64_t addr, unsigned len) override
	{
		return g_.access(VSST_RPC_AS_GLOBAL, addr, len, VSST_RPC_DIR_READ, 0);
	}
	void write(uint64_t addr, unsigned len, uint64_t value) override
	{
		g_.access(VSST_RPC_AS_GLOBAL, addr, len, VSST_RPC_DIR_WRITE, value);
	}
	void notify(uint64_t addr, unsigned len, uint64_t value) override
	{
		if (g_.is_posted(addr, len))
			g_.post(addr, len, value);
		else
			write(addr, len, value);
	}

private:
	RpcGuest &g_;
};

class RpcGuest::Irq final : public InterruptSource {
public:
	Irq(RpcGuest &g, unsigned index) : g_(g), index_(index) {}
	unsigned msi_vectors() const override { return kMsiVectors; }
	std::pair<uint64_t, uint32_t> msi_message(unsigned v) const override
	{
		return {kMsiAddress, (index_ << 8) | (v & 0xff)};
	}
	std::vector<uint32_t> wait(std::chrono::milliseconds timeout) override
	{
		return g_.wait_irq(index_, timeout);
	}

private:
	RpcGuest &g_;
	unsigned index_;
};

RpcGuest::RpcGuest(RpcGuestOptions opt) : opt_(opt), window_(opt.pci_hole_base, opt.pci_hole_size)
{
	if (opt.ram_size == 0 || opt.driver_mem_offset >= opt.ram_size || opt.ram_size > opt.pci_hole_base)
		throw Error("rpc guest: RAM layout does not fit below the PCI hole");
	std::string err;
	ram_ = devvm::GuestRam::create(opt.ram_size, {{0, opt.ram_size, 0}}, err);
	if (!ram_.valid() || !ram_.map(err))
		throw Error("rpc guest: " + err);
	devvm::to_setup_layout(ram_.fd(), ram_.layout(), layout_);
	channel_ = devvm::Channel::create(err, opt.ring_capacity);
	if (!channel_.valid())
		throw Error("rpc guest: " + err);
	fds_ = channel_.fds();
	ep_ = devvm::ProxyEndpoint::attach(fds_, err);
	if (!ep_)
		throw Error("rpc guest: " + err);
	ch_ = ep_.get();
	alloc_ = std::make_unique<RegionAllocator>(ram_at(opt.driver_mem_offset, 0), opt.driver_mem_offset,
						   opt.ram_size - opt.driver_mem_offset);
	mmio_ = std::make_unique<Mmio>(*this);
}

RpcGuest::~RpcGuest()
{
	irqs_.clear();
	mmio_.reset();
	alloc_.reset();
}

void RpcGuest::channel_failed(const std::string &what, int rc)
{
	std::string msg = "rpc guest: " + what + ": " + std::strerror(-rc);
	if (vsst_rpc_poisoned(ch_))
		msg += std::string(" (channel poisoned: ") + vsst_rpc_poison_reason(ch_) + ")";
	if (rc == -ETIMEDOUT)
		throw TimeoutError(msg);
	throw Error(msg);
}

void RpcGuest::start(std::chrono::milliseconds timeout)
{
	devvm::HandshakeOptions o;
	o.name = "backend";
	o.timeout = timeout;
	o.on_event = [this](const vsst_rpcmsg &m) {
		std::lock_guard lk(mu_);
		handle(m);
	};
	const devvm::HandshakeResult r = devvm::handshake(ch_, o);
	if (r.failure == devvm::HandshakeFailure::Timeout)
		throw TimeoutError("rpc guest: " + r.error);
	if (!r)
		throw Error("rpc guest: " + r.error);
}

std::optional<unsigned> RpcGuest::find_device(uint16_t vendor, uint16_t device) const
{
	for (auto &d : devices_)
		if (d.vendor == vendor && d.device == device)
			return d.index;
	return std::nullopt;
}

MemoryAccessor &RpcGuest::mmio()
{
	return *mmio_;
}

std::unique_ptr<ConfigAccessor> RpcGuest::config(unsigned index)
{
	if (index >= VSST_RPC_AS_PCI_LIMIT)
		throw Error("rpc guest: no PCI address space " + std::to_string(index));
	return std::make_unique<Config>(*this, index);
}

InterruptSource &RpcGuest::interrupts(unsigned index)
{
	std::lock_guard lk(mu_);
	auto &p = irqs_[index];
	if (!p)
		p = std::make_unique<Irq>(*this, index);
	return *p;
}

std::byte *RpcGuest::ram_at(uint64_t gpa, size_t len) const
{
	if (gpa > opt_.ram_size || len > opt_.ram_size - gpa)
		return nullptr;
	return reinterpret_cast<std::byte *>(ram_.base()) + gpa;
}

uint64_t RpcGuest::access(unsigned as, uint64_t addr, unsigned len, unsigned dir, uint64_t data)
{
	uint64_t v = data;
	const int rc = vsst_rpc_proxy_mmio(ch_, as, addr, len, dir, &v, opt_.access_timeout_ms);
	if (dir == VSST_RPC_DIR_READ)
		reads_++;
	else
		sync_writes_++;
	if (rc == -EIO) {
		// The backend completed with an error: behave like a master abort.
		error_completions_++;
		return len >= 8 ? ~uint64_t{0} : ((uint64_t{1} << (8 * len)) - 1);
	}
	if (rc < 0)
		channel_failed(std::string(dir ? "write" : "read") + " AS " + hex(as) + " addr " + hex(addr),
			       rc);
	return dir == VSST_RPC_DIR_READ ? v : 0;
}

void RpcGuest::post(uint64_t addr, unsigned len, uint64_t data)
{
	const int rc = vsst_rpc_proxy_post(ch_, VSST_RPC_AS_GLOBAL, addr, len, data, opt_.access_timeout_ms);
	if (rc < 0)
		channel_failed("posted write to " + hex(addr), rc);
	posted_writes_++;
}

bool RpcGuest::is_posted(uint64_t addr, unsigned len) const
{
	std::lock_guard lk(mu_);
	auto it = posted_.upper_bound(addr);
	if (it == posted_.begin())
		return false;
	--it;
	return addr - it->first < it->second && len <= it->second - (addr - it->first);
}

size_t RpcGuest::posted_regions() const
{
	std::lock_guard lk(mu_);
	return posted_.size();
}

void RpcGuest::handle(const vsst_rpcmsg &m)
{
	switch (vsst_rpc_mr0_op(m.mr0)) {
	case VSST_RPC_OP_HELLO:
		peer_version_ = static_cast<uint32_t>(m.mr1);
		break;
	case VSST_RPC_OP_REGISTER_PCI_DEV: {
		RpcPciDevice d;
		d.index = static_cast<unsigned>(m.mr1);
		d.vendor = static_cast<uint16_t>(m.mr2 >> 16);
		d.device = static_cast<uint16_t>(m.mr2);
		d.class_code = static_cast<uint32_t>(m.mr3);
		if (d.index < VSST_RPC_AS_PCI_LIMIT)
			devices_.push_back(d);
		else
			counters_.unknown_events++;
		break;
	}
	case VSST_RPC_OP_MMIO_REGION_CONFIG:
		counters_.regions++;
		if (m.mr3 & VSST_RPC_REGION_POSTED) {
			if (m.mr2 != 0 && m.mr1 + m.mr2 > m.mr1)
				posted_[m.mr1] = m.mr2;
		} else {
			posted_.erase(m.mr1); // the region is no longer posted (BAR moved or disabled)
		}
		break;
	case VSST_RPC_OP_START_VM:
		started_ = true;
		break;
	case VSST_RPC_OP_MSI: {
		counters_.msi++;
		const unsigned dev = static_cast<unsigned>((m.mr2 >> 8) & 0xff);
		const uint32_t vec = static_cast<uint32_t>(m.mr2 & 0xff);
		if (m.mr1 != kMsiAddress || (m.mr2 >> 16) != 0 || dev != m.mr3) {
			counters_.stray_msi++;
			break;
		}
		// Interrupts coalesce: a vector already pending is not queued twice,
		// which also bounds the list for a device nobody waits on.
		auto &p = pending_[dev];
		if (std::find(p.begin(), p.end(), vec) == p.end())
			p.push_back(vec);
		break;
	}
	case VSST_RPC_OP_SET_IRQ: {
		counters_.set_irq++;
		const unsigned dev = static_cast<unsigned>(m.mr1);
		if (m.mr2 == VSST_RPC_IRQ_SET || m.mr2 == VSST_RPC_IRQ_PULSE) {
			auto &p = pending_[dev];
			if (std::find(p.begin(), p.end(), InterruptSource::kLineVector) == p.end())
				p.push_back(InterruptSource::kLineVector);
		}
		break;
	}
	case VSST_RPC_OP_STOP:
		stopped_ = true;
		break;
	default:
		counters_.unknown_events++;
		break;
	}
}

void RpcGuest::pump(std::chrono::milliseconds timeout)
{
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	std::unique_lock lk(mu_);
	for (;;) {
		if (!pumping_) {
			pumping_ = true;
			lk.unlock();
			vsst_rpcmsg m;
			std::vector<vsst_rpcmsg> got;
			int rc;
			while ((rc = vsst_rpc_proxy_recv_event(ch_, &m)) == 1)
				got.push_back(m);
			if (rc == 0 && got.empty()) {
				const auto now = std::chrono::steady_clock::now();
				if (now < deadline) {
					const auto left =
						std::chrono::duration_cast<std::chrono::milliseconds>(
							deadline - now);
					rc = vsst_rpc_proxy_wait_event(
						ch_, &m,
						static_cast<int>(std::min(left, kPumpSlice).count()) + 1);
					if (rc == 1)
						got.push_back(m);
				}
			}
			lk.lock();
			pumping_ = false;
			for (auto &e : got)
				handle(e);
			cv_.notify_all();
			if (rc < 0 && rc != -ETIMEDOUT) {
				lk.unlock();
				channel_failed("receiving events", rc);
			}
			if (!got.empty() || std::chrono::steady_clock::now() >= deadline)
				return;
		} else {
			if (cv_.wait_until(lk, deadline) == std::cv_status::timeout)
				return;
		}
	}
}

std::vector<uint32_t> RpcGuest::wait_irq(unsigned index, std::chrono::milliseconds timeout)
{
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	for (;;) {
		{
			std::lock_guard lk(mu_);
			auto it = pending_.find(index);
			if (it != pending_.end() && !it->second.empty())
				return std::exchange(it->second, {});
		}
		const auto now = std::chrono::steady_clock::now();
		if (now >= deadline)
			return {};
		pump(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
	}
}

void RpcGuest::stop(uint64_t reason)
{
	vsst_rpcmsg m{vsst_rpc_mr0(VSST_RPC_OP_STOP, 0, 0, 0, 0, 0), reason, 0, 0};
	(void)vsst_rpc_proxy_send(ch_, &m, 100);
}

std::string RpcGuest::poison_reason() const
{
	return vsst_rpc_poison_reason(ch_);
}

RpcGuestCounters RpcGuest::counters() const
{
	std::lock_guard lk(mu_);
	RpcGuestCounters c = counters_;
	c.posted_writes = posted_writes_;
	c.sync_writes = sync_writes_;
	c.reads = reads_;
	c.error_completions = error_completions_;
	return c;
}

} // namespace vsst::virtio
