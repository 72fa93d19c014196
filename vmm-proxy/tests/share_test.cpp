// SPDX-License-Identifier: Apache-2.0
// --share / virtio-9p: parsing, the device VM's command line, the ACL codec, the owner
// rule, and (as root) a grant on a real directory and its undoing.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "options.h"
#include "qemu_cmdline.h"
#include "share_access.h"
#include "vsst/posix/temp_dir.h"

namespace vsst {
namespace {

std::vector<std::string> base()
{
	return {"--kernel", "K", "--initrd", "I", "--qemu", "/q", "--device", "virtio-sst,sim=/s"};
}

ParseResult parse_with(std::initializer_list<std::string> more)
{
	auto a = base();
	a.insert(a.end(), more);
	return parse_options(a);
}

TEST(ShareOptions, ShareAddsA9pDeviceAndTheKernelParameter)
{
	auto r = parse_with({"--share", "/data/in"});
	ASSERT_TRUE(r.options) << r.error;
	ASSERT_EQ(r.options->devices.size(), 2u);
	const DeviceSpec &d = r.options->devices[1];
	EXPECT_EQ(d.kind, DeviceKind::NineP);
	EXPECT_EQ(d.file, "/data/in");
	EXPECT_FALSE(d.readonly);
	EXPECT_EQ(r.options->share_mode, "rw");
	EXPECT_NE(kernel_cmdline(*r.options).find("vsst.share=rw"), std::string::npos);

	r = parse_with({"--share=/a:b:ro", "--append", "x=1"});
	ASSERT_TRUE(r.options) << r.error;
	EXPECT_EQ(r.options->devices[1].file, "/a:b");
	EXPECT_TRUE(r.options->devices[1].readonly);
	EXPECT_NE(kernel_cmdline(*r.options).find("x=1 vsst.share=ro"), std::string::npos);
	// A vsst.share= the user wrote wins.
	r = parse_with({"--share", "/a", "--append", "vsst.share=ro"});
	ASSERT_TRUE(r.options) << r.error;
	EXPECT_EQ(kernel_cmdline(*r.options).find("vsst.share=rw"), std::string::npos);
}

TEST(ShareOptions, BadShareAndDeviceSpecs)
{
	for (auto bad : std::vector<std::vector<std::string>>{
		     {"--share"},
		     {"--share", ":ro"},
		     {"--share", "/a", "--share", "/b"},
		     {"--device", "virtio-9p"},
		     {"--device", "virtio-9p,readonly=maybe,path=/a"},
		     {"--device", "virtio-9p,path=/a,mount_tag=has space"},
		     {"--device", "virtio-9p,path=/a,mount_tag=12345678901234567890123456789012"},
		     {"--device", "virtio-9p,file=/a"},
	     }) {
		auto a = base();
		a.insert(a.end(), bad.begin(), bad.end());
		auto r = parse_options(a);
		EXPECT_FALSE(r.options) << bad.back();
		EXPECT_FALSE(r.error.empty());
	}
}

TEST(ShareCmdline, DeviceVmReachesTheShareThroughADescriptor)
{
	auto r = parse_with({"--share", "/data/in:ro", "--device", "virtio-9p,path=/b,mount_tag=extra"});
	ASSERT_TRUE(r.options) << r.error;
	DeviceVmPlan plan;
	for (const auto &d : r.options->devices)
		plan.devices.push_back(&d);
	plan.setup_fd = 10;
	plan.share_fds = {11, 12};
	Argv argv = device_vm_argv(*r.options, plan, r.options->memory_bytes);
	const std::string line = shell_quote(argv.args);
	EXPECT_NE(
		line.find("-fsdev local,id=share0-fs,path=/proc/self/fd/11,security_model=none,readonly=on"),
		std::string::npos)
		<< line;
	EXPECT_NE(line.find("-device virtio-9p-pci,id=share0,fsdev=share0-fs,mount_tag=vsst-host"),
		  std::string::npos)
		<< line;
	EXPECT_NE(line.find("path=/proc/self/fd/12,security_model=none -device "
			    "virtio-9p-pci,id=share1,fsdev=share1-fs,mount_tag=extra"),
		  std::string::npos)
		<< line;
	// The path itself never reaches the device VM; it keeps the sandbox.
	EXPECT_EQ(line.find("/data/in"), std::string::npos) << line;
	EXPECT_NE(line.find("-sandbox on"), std::string::npos);
	EXPECT_NE(std::find(argv.inherit.begin(), argv.inherit.end(), 11), argv.inherit.end());
	EXPECT_NE(std::find(argv.inherit.begin(), argv.inherit.end(), 12), argv.inherit.end());
}

TEST(ShareAcl, CodecAndGrant)
{
	auto e = acl::from_mode(0750);
	ASSERT_EQ(e.size(), 3u);
	EXPECT_EQ(e[0].perm, 7);
	EXPECT_EQ(e[1].perm, 5);
	EXPECT_EQ(e[2].perm, 0);
	auto g = acl::with_user(e, 65534, 7);
	// user_obj, user:65534, group_obj, mask, other - sorted by tag.
	ASSERT_EQ(g.size(), 5u);
	EXPECT_EQ(g[1].tag, acl::User);
	EXPECT_EQ(g[1].id, 65534u);
	EXPECT_EQ(g[1].perm, 7);
	EXPECT_EQ(g[3].tag, acl::Mask);
	EXPECT_EQ(g[3].perm, 7); // group r-x | rwx: the group's own rights unchanged (group_obj 5)
	std::vector<acl::Entry> back;
	ASSERT_TRUE(acl::decode(acl::encode(g), back));
	ASSERT_EQ(back.size(), g.size());
	for (size_t i = 0; i < g.size(); i++) {
		EXPECT_EQ(back[i].tag, g[i].tag);
		EXPECT_EQ(back[i].perm, g[i].perm);
		EXPECT_EQ(back[i].id, g[i].id);
	}
	// An existing entry for the user is widened, not duplicated; a mask only grows.
	auto again = acl::with_user(g, 65534, 4);
	EXPECT_EQ(again.size(), 5u);
	EXPECT_FALSE(acl::decode({1, 0, 0, 0}, back)); // version 1
	EXPECT_FALSE(acl::decode({2, 0, 0, 0, 1}, back));
}

const char *fake_env_sudo(const char *name)
{
	if (!strcmp(name, "SUDO_UID"))
		return "1234";
	if (!strcmp(name, "SUDO_GID"))
		return "2345";
	return nullptr;
}
const char *fake_env_bad(const char *name)
{
	return !strcmp(name, "SUDO_UID") ? "12x" : nullptr;
}
const char *fake_env_none(const char *)
{
	return nullptr;
}

TEST(ShareOwner, SudoUserOwnsWhatTheGuestWrites)
{
	ShareOwner o = share_owner(fake_env_sudo);
	if (geteuid() == 0) {
		EXPECT_EQ(o.uid, 1234u);
		EXPECT_EQ(o.gid, 2345u);
		EXPECT_EQ(o.source, "SUDO_UID");
	} else {
		EXPECT_EQ(o.uid, getuid()); // SUDO_UID means nothing to an unprivileged launcher
	}
	o = share_owner(fake_env_bad);
	EXPECT_EQ(o.uid, getuid());
	o = share_owner(fake_env_none);
	EXPECT_EQ(o.uid, getuid());
	EXPECT_EQ(o.gid, getgid());
}

TEST(ShareDir, ClearReasons)
{
	TempDir t("vsst-share-test");
	const std::string p = t.path().string();
	EXPECT_EQ(check_share_dir(p), "");
	EXPECT_NE(check_share_dir(p + "/missing").find("does not exist"), std::string::npos);
	std::ofstream(p + "/file") << "x";
	EXPECT_NE(check_share_dir(p + "/file").find("is not a directory"), std::string::npos);
}

bool has_acl(const std::string &path)
{
	return getxattr(path.c_str(), "system.posix_acl_access", nullptr, 0) >= 0;
}

TEST(ShareAccessAsRoot, GrantThenRestoreAndHandOver)
{
	if (geteuid() != 0)
		GTEST_SKIP() << "needs root (chown, other users' ACLs)";
	auto nobody = lookup_user("nobody");
	if (!nobody)
		GTEST_SKIP() << "no user nobody";
	TempDir t("vsst-share-test");
	const std::string d = t.path().string() + "/share";
	ASSERT_EQ(mkdir(d.c_str(), 0700), 0);
	ASSERT_EQ(mkdir((d + "/sub").c_str(), 0750), 0);
	std::ofstream(d + "/sub/secret") << "s";
	std::ofstream(d + "/open") << "o";
	ASSERT_EQ(chmod((d + "/sub/secret").c_str(), 0600), 0);
	ASSERT_EQ(chmod((d + "/open").c_str(), 0666), 0);
	ASSERT_EQ(symlink("/etc/shadow", (d + "/link").c_str()), 0);
	// Already nobody's before the run: not the device VM's doing, keeps its owner.
	std::ofstream(d + "/theirs") << "t";
	ASSERT_EQ(chmod((d + "/theirs").c_str(), 0644), 0);
	ASSERT_EQ(chown((d + "/theirs").c_str(), nobody->uid, nobody->gid), 0);
	ShareOwner owner{4321, 4322, "test"};

	ShareAccess rw;
	std::string error;
	ASSERT_TRUE(rw.grant(d, false, *nobody, owner, error)) << error;
	// 0700 dir, 0750 dir, 0600 file need an entry; the 0666 file does not; the link
	// is never touched.
	EXPECT_EQ(rw.report().granted, 3u);
	EXPECT_TRUE(has_acl(d));
	EXPECT_TRUE(has_acl(d + "/sub/secret"));
	EXPECT_FALSE(has_acl(d + "/open"));
	struct stat st;
	ASSERT_EQ(stat((d + "/sub/secret").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 0777, 0660u); // group bits show the mask while granted

	// What the device VM would create: files and a directory owned by nobody.
	std::ofstream(d + "/sub/new") << "n";
	ASSERT_EQ(mkdir((d + "/newdir").c_str(), 0755), 0);
	ASSERT_EQ(chown((d + "/sub/new").c_str(), nobody->uid, nobody->gid), 0);
	ASSERT_EQ(chown((d + "/newdir").c_str(), nobody->uid, nobody->gid), 0);
	// Removed and created again (the file system may hand out the same inode number):
	// new, so handed over.
	ASSERT_EQ(unlink((d + "/open").c_str()), 0);
	std::ofstream(d + "/open") << "again";
	ASSERT_EQ(chown((d + "/open").c_str(), nobody->uid, nobody->gid), 0);

	ShareAccess::Report r = rw.restore();
	EXPECT_EQ(r.failed, 0u) << r.first_error;
	EXPECT_EQ(r.restored, 3u);
	EXPECT_EQ(r.handed, 3u);
	EXPECT_FALSE(has_acl(d));
	EXPECT_FALSE(has_acl(d + "/sub"));
	EXPECT_FALSE(has_acl(d + "/sub/secret"));
	ASSERT_EQ(stat(d.c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0700u);
	ASSERT_EQ(stat((d + "/sub").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0750u);
	ASSERT_EQ(stat((d + "/sub/secret").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0600u);
	ASSERT_EQ(stat((d + "/sub/new").c_str(), &st), 0);
	EXPECT_EQ(st.st_uid, 4321u);
	EXPECT_EQ(st.st_gid, 4322u);
	ASSERT_EQ(stat((d + "/newdir").c_str(), &st), 0);
	EXPECT_EQ(st.st_uid, 4321u);
	ASSERT_EQ(stat((d + "/open").c_str(), &st), 0);
	EXPECT_EQ(st.st_uid, 4321u);
	ASSERT_EQ(stat((d + "/theirs").c_str(), &st), 0);
	EXPECT_EQ(st.st_uid, nobody->uid);
	// Restoring again changes nothing.
	EXPECT_EQ(rw.restore().handed, 3u);

	// Read-only: r-x / r- grants, nothing handed over, all undone.
	ShareAccess ro;
	ASSERT_TRUE(ro.grant(d, true, *nobody, owner, error)) << error;
	EXPECT_GE(ro.report().granted, 3u);
	r = ro.restore();
	EXPECT_EQ(r.failed, 0u) << r.first_error;
	EXPECT_EQ(r.handed, 0u);
	EXPECT_FALSE(has_acl(d));
	ASSERT_EQ(stat((d + "/sub/secret").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0600u);
}

} // namespace
} // namespace vsst
