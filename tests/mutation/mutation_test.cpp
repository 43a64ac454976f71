// mutation_test.cpp - SPEC §4: the conformance suite fails against every broken
// variant, and this test says which of its cases caught each one.
//
// A suite that has never failed proves little: its passes mean something once
// it is seen failing against the mistakes it is meant to catch. For each variant
// of build/bin/broken/ (docs/16-what-goes-wrong.md) this test runs the whole
// conformance suite, filtered to the cases of the variant's model and with the
// variant in the model's place (MUXLAB_CONFORMANCE_SERVER), stopping at the
// first failure. A variant that the suite passes is a hole in the suite: add the
// case that catches it (tests/conformance/pitfalls_test.cpp holds such cases).
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "harness/child.hpp"
#include "harness/models.hpp"

namespace muxlab::mutation {
namespace {

using namespace std::chrono_literals;

struct Variant {
  const char* name;         // build/bin/broken/<name>
  const char* model;        // its model in harness/models.cpp, whose flags and cases it takes
  const char* description;  // the "BROKEN on purpose: ..." line of its --help
  bool memory_error;        // the sanitizers (or glibc's checks) must catch it
};

const Variant kVariants[] = {
#include "broken_variants.inc"
};

// How gtest shows a parameter: its name.
void PrintTo(const Variant& variant, std::ostream* out) { *out << variant.name; }

// Built with -fsanitize, as the variants are (MUXLAB_SANITIZE).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// What the suite may take against one variant: every case of one model, with
// some of them waiting out their deadlines (a deaf server, a stall).
constexpr auto kSuiteTimeout = 240s;

const harness::Model* find_model(std::string_view name) {
  for (const auto& model : harness::all_models())
    if (model.name == name) return &model;
  return nullptr;
}

// The output of the first case that failed, from its "[ RUN      ]" line to its
// "[  FAILED  ]" line, and that case's name; both empty if none failed.
struct FirstFailure {
  std::string name;
  std::string output;
};

FirstFailure first_failure(const std::string& gtest_output) {
  std::istringstream lines(gtest_output);
  std::string line, section;
  while (std::getline(lines, line)) {
    if (line.starts_with("[ RUN      ] ")) section.clear();
    section += line + '\n';
    if (!line.starts_with("[  FAILED  ] ")) continue;
    // "[  FAILED  ] AllModels/ServerConformance.<Case>/<model>, where GetParam() = ..."
    // (or ConcurrentModels/ConcurrentServerConformance.<Case>/<model>, ...)
    const auto dot = line.find('.');
    const auto slash = line.find('/', dot);
    if (dot == std::string::npos || slash == std::string::npos) continue;
    return {line.substr(dot + 1, slash - dot - 1), section};
  }
  return {};
}

// The first `max_lines` lines of `text`, each indented, for the log.
std::string excerpt(const std::string& text, int max_lines) {
  std::istringstream lines(text);
  std::string line, out;
  for (int n = 0; n < max_lines && std::getline(lines, line); ++n) out += "    " + line + '\n';
  return out;
}

class BrokenVariant : public ::testing::TestWithParam<Variant> {};

TEST_P(BrokenVariant, IsCaughtByTheConformanceSuite) {
  const Variant& variant = GetParam();
  const std::string binary = std::string(MUXLAB_BIN_DIR) + "/broken/" + variant.name;

  // It says what it is.
  const harness::RunResult help = harness::run_program(binary, {"--help"});
  ASSERT_TRUE(help.exit.exited && help.exit.code == 0) << binary << " --help: " << help.err;
  EXPECT_TRUE(help.out.starts_with("usage: " + std::string(variant.name) + " ")) << help.out;
  EXPECT_NE(help.out.find(variant.description), std::string::npos) << help.out;

  // The suite's cases for its model, run against it, up to the first failure.
  const harness::Model* model = find_model(variant.model);
  ASSERT_NE(model, nullptr) << variant.model << " (broken/CMakeLists.txt) is not a model of harness/models.cpp";
  ::setenv("MUXLAB_CONFORMANCE_SERVER", binary.c_str(), 1);
  const harness::RunResult suite = harness::run_program(
      MUXLAB_CONFORMANCE_TEST,
      {"--gtest_filter=*/" + harness::test_name(*model), "--gtest_fail_fast", "--gtest_color=no"}, kSuiteTimeout);
  ::unsetenv("MUXLAB_CONFORMANCE_SERVER");
  const std::string output = suite.out + suite.err;

  ASSERT_FALSE(suite.exit.exited && suite.exit.code == 0)
      << variant.name << " passed every conformance case of " << variant.model
      << ": the suite has a hole where this mistake is (" << variant.description << ")";
  const FirstFailure caught = first_failure(output);
  ASSERT_NE(caught.name, "") << "the suite failed without naming a case:\n" << excerpt(output, 40);
  RecordProperty("caught_by", caught.name);
  std::cout << variant.name << ": caught by " << caught.name << "\n" << excerpt(caught.output, 12);

  if (variant.memory_error && kSanitized) {
    // UndefinedBehaviorSanitizer's object-size check sees the access first, when
    // it is built in ("runtime error: load of address ... with insufficient space
    // for an object of type '__fd_mask'"); AddressSanitizer alone reports a
    // stack-buffer-overflow.
    const bool reported = output.find("ERROR: AddressSanitizer") != std::string::npos ||
                          output.find(": runtime error: ") != std::string::npos;
    EXPECT_TRUE(reported) << "built with the sanitizers, they must report the overflow:\n" << excerpt(output, 40);
  } else if (variant.memory_error && MUXLAB_FORTIFIED) {
    // glibc's FD_SET check (_FORTIFY_SOURCE): "*** bit out of range 0 - FD_SETSIZE
    // on fd_set ***: terminated" since glibc 2.36, "buffer overflow detected" before.
    const bool aborted = output.find("bit out of range 0 - FD_SETSIZE") != std::string::npos ||
                         output.find("buffer overflow detected") != std::string::npos;
    EXPECT_TRUE(aborted) << "built with _FORTIFY_SOURCE, glibc must abort at the overflow:\n" << excerpt(output, 40);
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, BrokenVariant, ::testing::ValuesIn(kVariants),
                         [](const ::testing::TestParamInfo<Variant>& param) {
                           std::string name = param.param.name;
                           for (auto& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

}  // namespace
}  // namespace muxlab::mutation
