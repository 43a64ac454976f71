// `cmake --install BUILD --prefix P`: every program the build made into P/bin,
// where it runs; the course (docs/, its pictures and results) into
// P/share/doc/muxlab.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "tests/tools/scratch.hpp"

namespace muxlab::tools {
namespace {

namespace fs = std::filesystem;

class Install : public ::testing::Test {
 protected:
  // One installation for the suite: installing copies every program.
  static void SetUpTestSuite() {
    prefix = std::make_unique<ScratchDir>();
    auto result = harness::run_program(MUXLAB_CMAKE, {"--install", MUXLAB_BUILD_DIR, "--prefix", prefix->path().string()},
                                       std::chrono::seconds(60));
    install_output = result.out + result.err;
    install_ok = result.exit.exited && result.exit.code == 0;
  }
  static void TearDownTestSuite() { prefix.reset(); }

  void SetUp() override { ASSERT_TRUE(install_ok) << "cmake --install failed:\n" << install_output; }

  static std::unique_ptr<ScratchDir> prefix;
  static std::string install_output;
  static bool install_ok;
};

std::unique_ptr<ScratchDir> Install::prefix;
std::string Install::install_output;
bool Install::install_ok = false;

// The build's programs: the executables of its bin/, except the tests (*_test).
bool is_program(const fs::directory_entry& entry) {
  const std::string name = entry.path().filename().string();
  return entry.is_regular_file() && (entry.status().permissions() & fs::perms::owner_exec) != fs::perms::none &&
         !name.ends_with("_test");
}

TEST_F(Install, EveryProgramRunsFromPrefixBin) {
  int programs = 0;
  for (const auto& entry : fs::directory_iterator(MUXLAB_BIN_DIR)) {
    if (!is_program(entry)) continue;
    ++programs;
    const std::string name = entry.path().filename().string();
    const fs::path installed = prefix->path() / "bin" / name;
    if (!fs::exists(installed)) {
      ADD_FAILURE() << name << " is not installed into PREFIX/bin";
      continue;
    }
    auto result = harness::run_program(installed.string(), {"--version"});
    EXPECT_EQ(result.exit.code, 0) << name << " --version: " << result.err;
    EXPECT_TRUE(result.out.starts_with(name + " (muxlab ")) << name << " --version printed: " << result.out;
  }
  EXPECT_GE(programs, 3) << "no programs found in " << MUXLAB_BIN_DIR;
}

// The broken variants (build/bin/broken/) are teaching material for the
// suite and chapter 16, not programs: nothing of them is installed.
TEST_F(Install, NoBrokenVariantIsInstalled) {
  int variants = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(MUXLAB_BIN_DIR) / "broken")) {
    ++variants;
    const std::string name = entry.path().filename().string();
    EXPECT_FALSE(fs::exists(prefix->path() / "bin" / name)) << name << " is installed into PREFIX/bin";
  }
  EXPECT_GE(variants, 8) << "the broken variants are not in " << MUXLAB_BIN_DIR << "/broken";
  EXPECT_FALSE(fs::exists(prefix->path() / "bin" / "broken")) << "PREFIX/bin/broken exists";
}

TEST_F(Install, TheCourseIsInPrefixShareDocMuxlab) {
  const fs::path docs = fs::path(MUXLAB_SOURCE_DIR) / "docs";
  const fs::path installed = prefix->path() / "share" / "doc" / "muxlab";
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(docs)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    const fs::path relative = fs::relative(entry.path(), docs);
    EXPECT_TRUE(fs::exists(installed / relative)) << "docs/" << relative.string() << " is not installed";
  }
  EXPECT_GE(files, 2) << "no course found in " << docs;
}

}  // namespace
}  // namespace muxlab::tools
