// SPDX-License-Identifier: Apache-2.0
// The guest command's transport: argv encoding for vsst.cmd=, and cutting its output
// out of the console between /init's two OSC frames.
#include <gtest/gtest.h>

#include <string>

#include "guest_command.h"
#include "launch_record.h"
#include "options.h"
#include "qemu_cmdline.h"

namespace vsst {
namespace {

const std::string kBegin = "\033]vsst-cmd;begin\007";
std::string end_frame(int rc)
{
	return "\033]vsst-cmd;end;rc=" + std::to_string(rc) + "\007";
}

std::string cut(const std::string &console, CommandOutput &c, size_t chunk = 1)
{
	std::string out;
	for (size_t i = 0; i < console.size(); i += chunk)
		c.feed(console.data() + i, std::min(chunk, console.size() - i), out);
	return out;
}

TEST(GuestCommand, EncodesEachArgumentAsBase64)
{
	EXPECT_EQ(encode_guest_command({"ls"}), "bHM=");
	EXPECT_EQ(encode_guest_command({"sh", "-c", "echo a,b"}), "c2g=,LWM=,ZWNobyBhLGI=");
	EXPECT_EQ(encode_guest_command({"a", "", "bcd"}), "YQ==,,YmNk");
}

TEST(GuestCommand, ShowsOnlyTheFramedOutputWithItsStatus)
{
	const std::string console = "VSST-BOOT init uptime=1.0\r\nVSST-RESULT init.modules PASS\r\n" +
				    kBegin + "hello\r\nworld" + end_frame(3) + "\r\nVSST-BOOT poweroff\r\n";
	for (size_t chunk : {1, 3, 7, 4096}) {
		CommandOutput c;
		EXPECT_EQ(cut(console, c, chunk), "hello\nworld") << "chunk " << chunk;
		EXPECT_TRUE(c.ended());
		ASSERT_TRUE(c.exit_status());
		EXPECT_EQ(*c.exit_status(), 3);
	}
}

TEST(GuestCommand, OutputThatLooksLikeAFrameIsOutput)
{
	// Colour sequences, a lone ESC, a frame cut short, a carriage return for progress.
	const std::string body =
		"\033[1mbold\033[0m \033x \033]vsst-cmd;en \033]vsst-cmd;end;rc=x\007 50%\r100%\n";
	CommandOutput c;
	EXPECT_EQ(cut(kBegin + body + end_frame(0), c), body.substr(0, body.size() - 1) + "\n");
	ASSERT_TRUE(c.exit_status());
	EXPECT_EQ(*c.exit_status(), 0);
}

TEST(GuestCommand, UnfinishedCommandHasNoStatus)
{
	CommandOutput c;
	std::string out = cut(kBegin + "partial\033]vsst", c);
	EXPECT_EQ(out, "partial");
	EXPECT_TRUE(c.begun());
	EXPECT_FALSE(c.ended());
	EXPECT_FALSE(c.exit_status());
	c.flush(out);
	EXPECT_EQ(out, "partial\033]vsst");

	CommandOutput never;
	EXPECT_EQ(cut("VSST-BOOT init\r\nKernel panic\r\n", never), "");
	EXPECT_FALSE(never.begun());
}

TEST(GuestCommand, OptionsTakeEverythingAfterTheSeparator)
{
	auto r = parse_options({"--kernel", "k", "--initrd", "i", "--device", "virtio-rng", "--", "ls", "-l",
				"--device", "x"});
	ASSERT_TRUE(r.options) << r.error;
	EXPECT_EQ(r.options->guest_command, (std::vector<std::string>{"ls", "-l", "--device", "x"}));
	EXPECT_NE(kernel_cmdline(*r.options).find("vsst.cmd=bHM=,LWw=,LS1kZXZpY2U=,eA=="), std::string::npos);

	auto empty = parse_options({"--kernel", "k", "--initrd", "i", "--device", "virtio-rng", "--"});
	EXPECT_FALSE(empty.options);
	EXPECT_NE(empty.error.find("followed by the command"), std::string::npos);
}

TEST(LaunchRecord, IsJsonWithTheResultsFields)
{
	LaunchRecord r;
	r.argv = {"vmm-proxy", "--x", "quote\"d"};
	r.processes.push_back({"guest VM", 42, "root", {"qemu", "-m", "512"}});
	r.setup_s = 1.5;
	r.results.push_back({"sst-bench.d1", "PASS", "p50_us=120 n=2000 args=\"--depth 1\" free text"});
	r.command = {"ls"};
	r.command_exit = 0;
	r.exit_reason = "guest command exited 0\n\x01\xff é";
	const std::string j = to_json(r);
	EXPECT_NE(j.find("\"schema\": \"vsst-launch\""), std::string::npos);
	EXPECT_NE(j.find("\"quote\\\"d\""), std::string::npos);
	EXPECT_NE(j.find("\"setup_s\": 1.500, \"boot_s\": null"), std::string::npos);
	EXPECT_NE(j.find("{\"p50_us\":\"120\",\"n\":\"2000\",\"args\":\"--depth 1\",\"text\":\"free text\"}"),
		  std::string::npos)
		<< j;
	EXPECT_NE(j.find("\"command\": {\"argv\": [\"ls\"], \"exit\": 0}"), std::string::npos);
	// Any bytes give valid JSON: controls escaped, UTF-8 kept, other bytes U+FFFD.
	EXPECT_NE(j.find("exited 0\\n\\u0001\\ufffd é"), std::string::npos) << j;
}

} // namespace
} // namespace vsst
