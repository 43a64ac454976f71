// `./run`'s set-up: install_missing (defined in run) with packages of the test's
// choosing, and a PATH that holds only dpkg-query, env and the stand-ins for
// sudo and apt-get each case needs. Nothing is ever installed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/tools/scratch.hpp"

namespace muxlab::tools {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMissing = "muxlab-no-such-package";

class Setup : public ::testing::Test {
 protected:
  void SetUp() override {
    // `run` itself, copied where the user nobody can read it (the checkout may not be).
    fs::copy_file(fs::path(MUXLAB_SOURCE_DIR) / "run", bin.path() / "run");
    for (const char* tool : {"/usr/bin/dpkg-query", "/usr/bin/env"})
      fs::create_symlink(tool, bin.path() / fs::path(tool).filename());
  }

  // A stand-in for `name` on the PATH: a sh script with `body`.
  void stand_in(const std::string& name, const std::string& body) const {
    bin.write(name, "#!/bin/sh\n" + body + "\n", true);
  }

  // Sources `run` and calls install_missing PACKAGES..., as this process's user
  // or as a user without privileges.
  harness::RunResult install_missing(const std::vector<std::string>& packages, bool privileged) const {
    std::vector<std::string> command = {"/bin/bash", "-c", R"(PATH=$1; source "$1/run"; shift; install_missing "$@")",
                                        "bash", bin.path().string()};
    command.insert(command.end(), packages.begin(), packages.end());
    return privileged ? harness::run_program(command.front(), {command.begin() + 1, command.end()})
                      : run_unprivileged(command);
  }

  ScratchDir bin;
};

TEST_F(Setup, NothingMissingDoesNothing) {
  stand_in("sudo", "echo \"sudo $*\"");
  stand_in("apt-get", "echo \"apt-get $*\"");
  auto result = install_missing({"bash", "dpkg"}, false);
  EXPECT_EQ(result.exit.code, 0) << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "");
}

TEST_F(Setup, WithoutRootOrSudoNamesThePackagesAndTheCommandAndExits2) {
  auto result = install_missing({"bash", kMissing}, false);
  EXPECT_TRUE(result.exit.exited);
  EXPECT_EQ(result.exit.code, 2) << result.err;
  EXPECT_EQ(result.err,
            "run: missing Debian packages: muxlab-no-such-package\n"
            "run: installing them needs root, and sudo is not installed; as root, run:\n"
            "  apt-get update && apt-get install --no-install-recommends muxlab-no-such-package\n");
}

TEST_F(Setup, SudoWantingAPasswordWithoutATerminalFailsClearly) {
  // As sudo does when it needs a password: -n (non-interactive) fails at once.
  stand_in("sudo", "if [ \"$1\" = -n ]; then echo 'sudo: a password is required' >&2; exit 1; fi\n"
                   "echo \"sudo $*\"; exit 1");
  auto result = install_missing({kMissing}, false);  // stdin is /dev/null: no terminal
  EXPECT_EQ(result.exit.code, 2) << result.err;
  EXPECT_EQ(result.out, "") << "it must not try sudo without -n";
  EXPECT_EQ(result.err,
            "run: missing Debian packages: muxlab-no-such-package\n"
            "run: sudo needs a password, and this run is not interactive; run:\n"
            "  sudo apt-get update && sudo apt-get install --no-install-recommends muxlab-no-such-package\n");
}

TEST_F(Setup, ThroughSudoInstallsWithoutRecommends) {
  stand_in("sudo", "if [ \"$1\" = -n ]; then exit 0; fi\necho \"sudo $*\"");
  auto result = install_missing({"bash", kMissing}, false);
  EXPECT_EQ(result.exit.code, 0) << result.err;
  EXPECT_EQ(result.out,
            "== installing: muxlab-no-such-package\n"
            "sudo apt-get update -qq\n"
            "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
            "muxlab-no-such-package\n");
}

TEST_F(Setup, AsRootInstallsWithoutRecommends) {
  if (::geteuid() != 0) GTEST_SKIP() << "this case needs root, and the test runs as uid " << ::geteuid();
  stand_in("sudo", "echo \"sudo $*\"");
  stand_in("apt-get", "echo \"apt-get $*\"");
  auto result = install_missing({"bash", kMissing}, true);
  EXPECT_EQ(result.exit.code, 0) << result.err;
  EXPECT_EQ(result.out,
            "== installing: muxlab-no-such-package\n"
            "apt-get update -qq\n"
            "apt-get install -y -qq --no-install-recommends muxlab-no-such-package\n");
}

}  // namespace
}  // namespace muxlab::tools
