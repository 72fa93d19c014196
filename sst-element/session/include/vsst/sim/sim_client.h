// SPDX-License-Identifier: Apache-2.0
// A small blocking client of the simulator socket (both protocols), with a
// timeout on every wait. Used by the tests and the benchmark; it is not the
// device's client (that one lives in device/ and is asynchronous).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vsst/posix/unique_fd.h"
#include "vsst/protocol/wire_size.h" // request_wire_size, for callers of send_request
#include "vsst/sim-wire.h"
#include "vsst/sst-protocol.h"

namespace vsst::sim {

struct ClientFrame {
	vsst_sim_frame_hdr hdr{};
	std::vector<uint8_t> payload;
};

class SimClient {
public:
	// Connects to a Unix socket (retrying until timeout_ms while it does not exist yet).
	static std::optional<SimClient> connect(const std::string &path, int timeout_ms,
						std::string *err = nullptr);
	explicit SimClient(UniqueFd fd) : fd_(std::move(fd)) {}

	int fd() const { return fd_.get(); }

	bool send_all(const void *data, size_t len, int timeout_ms);
	bool read_exact(void *data, size_t len, int timeout_ms);
	// True when the server closed the connection within timeout_ms (data
	// still arriving before the close is discarded).
	bool wait_closed(int timeout_ms);

	// Framed protocol.
	bool send_frame(uint16_t type, uint64_t tag, const void *payload, size_t len, int timeout_ms);
	std::optional<ClientFrame> read_frame(int timeout_ms);
	// Sends HELLO and waits for the answer.
	std::optional<vsst_sim_hello> hello(uint32_t device_id, bool events, int timeout_ms);
	bool send_request(uint64_t tag, const SSTRequest &req, size_t len, int timeout_ms);

	// acalsim: one SSTRequest out, one SSTResponse back.
	std::optional<SSTResponse> acalsim_call(const SSTRequest &req, int timeout_ms);

private:
	UniqueFd fd_;
};

} // namespace vsst::sim
