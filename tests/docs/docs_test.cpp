// docs_test - runs every command of the course (docs/*.md) and checks that its
// output still has the shape the chapter shows, so the course never drifts from
// the programs. How examples are written: course.hpp; how they run: sandbox.hpp.
#include <fnmatch.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tests/docs/course.hpp"
#include "tests/docs/sandbox.hpp"

namespace muxlab::docs {
namespace {

namespace fs = std::filesystem;

struct Case {
  Example example;
  std::string error;  // a file the parser could not read: the case fails with this
};

// What gtest prints for a failing example: where it is, not its bytes.
void PrintTo(const Case& c, std::ostream* out) { *out << c.example.file << ":" << c.example.line; }

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<fs::path> course_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(MUXLAB_DOCS_DIR))
    if (entry.path().extension() == ".md") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const auto& file : course_files()) {
    const std::string name = file.filename().string();
    try {
      for (auto& example : parse_examples(read_file(file), name)) cases.push_back({std::move(example), {}});
    } catch (const std::exception& e) {
      Example broken;
      broken.file = name;
      broken.name = "unreadable_" + std::to_string(cases.size());
      cases.push_back({std::move(broken), e.what()});
    }
  }
  return cases;
}

// Whether the repository's .gitignore ignores `name`, a file or directory
// written at the top of a checkout. Only the forms .gitignore uses are read:
// `/name`, `/*.ext`, `name/`, `dir/` (a leading '/' anchors, a trailing one
// means a directory, which makes no difference here).
bool ignored_at_top(const std::string& gitignore, const std::string& name) {
  std::istringstream lines(gitignore);
  for (std::string pattern; std::getline(lines, pattern);) {
    if (pattern.empty() || pattern.starts_with('#') || pattern.starts_with('!')) continue;
    if (pattern.starts_with('/')) pattern.erase(0, 1);
    if (pattern.ends_with('/')) pattern.pop_back();
    if (::fnmatch(pattern.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += "    " + line + "\n";
  return text.empty() ? "    (nothing)\n" : text;
}

class CourseExample : public ::testing::TestWithParam<Case> {};

TEST_P(CourseExample, OutputHasTheShapeShown) {
  const Case& c = GetParam();
  ASSERT_TRUE(c.error.empty()) << c.error;
  const Example& example = c.example;
  if (auto tool = missing_tool(example.needs); !tool.empty())
    GTEST_SKIP() << example.file << ":" << example.line << " needs `" << tool << "`, which "
                 << (tool == "root" ? "this test does not run as" : "is not installed");
  for (const auto& program : programs_used(example))
    ASSERT_TRUE(fs::exists(fs::path(MUXLAB_BIN_DIR) / program))
        << example.file << ":" << example.line << " runs build/bin/" << program << ", which is not built";

  Transcript t = run_example(example, MUXLAB_BIN_DIR, MUXLAB_SOURCE_DIR);
  ASSERT_FALSE(t.timed_out) << example.file << ":" << example.line << " did not finish within "
                            << example.timeout.count() << " s; the script was:\n"
                            << t.script << "\nand it printed:\n" << t.output;
  const bool print = std::getenv("MUXLAB_DOCS_PRINT") != nullptr;  // to refresh a chapter's output
  for (std::size_t i = 0; i < example.commands.size(); ++i) {
    const Command& command = example.commands[i];
    if (print) std::cout << "$ " << command.text << "\n" << joined(t.outputs[i]);
    EXPECT_TRUE(has_shape(command.expected, t.outputs[i], command.unordered))
        << example.file << ":" << command.line << ": $ " << command.text << "\n  shows:\n"
        << joined(command.expected) << "  printed:\n" << joined(t.outputs[i]);
    for (const auto& problem : figures_out_of_range(command, t.outputs[i]))
      ADD_FAILURE() << example.file << ":" << command.line << ": $ " << command.text << "\n  " << problem;
  }
  // A student who works in the checkout instead of a scratch directory
  // (docs/README.md) must not find the course's files in `git status`.
  const std::string gitignore = read_file(fs::path(MUXLAB_SOURCE_DIR) / ".gitignore");
  for (const auto& name : t.written)
    EXPECT_TRUE(ignored_at_top(gitignore, name))
        << example.file << ":" << example.line << " writes " << name
        << ", which .gitignore does not ignore (add it there, with the others the course writes)";
  EXPECT_TRUE(t.left_running.empty()) << example.file << ":" << example.line
                                      << " leaves jobs running (a student's next server would find "
                                         "its port taken; end with `kill %1; wait`):\n"
                                      << joined(t.left_running);
}

INSTANTIATE_TEST_SUITE_P(Course, CourseExample, ::testing::ValuesIn(all_cases()),
                         [](const auto& param_info) { return param_info.param.example.name; });

// The index links every chapter, and every chapter has something to run.
TEST(CourseIndex, LinksEveryChapterThatHasExamples) {
  const std::string index = read_file(fs::path(MUXLAB_DOCS_DIR) / "README.md");
  for (const auto& file : course_files()) {
    const std::string name = file.filename().string();
    if (name == "README.md") continue;
    EXPECT_NE(index.find("(" + name + ")"), std::string::npos) << "docs/README.md does not link " << name;
    EXPECT_FALSE(parse_examples(read_file(file), name).empty()) << name << " has no ```console example";
  }
}

// Every relative link of the course leads to a file of the repository.
TEST(CourseIndex, RelativeLinksExist) {
  for (const auto& file : course_files()) {
    const std::string text = read_file(file);
    for (auto at = text.find("]("); at != std::string::npos; at = text.find("](", at + 2)) {
      const auto end = text.find(')', at);
      std::string target = text.substr(at + 2, end - at - 2);
      target = target.substr(0, target.find('#'));
      if (target.empty() || target.find("://") != std::string::npos) continue;
      EXPECT_TRUE(fs::exists(file.parent_path() / target))
          << file.filename().string() << " links " << target << ", which does not exist";
    }
  }
}

TEST(CourseIndex, GitignoreFormsAreRead) {
  const std::string gitignore = "# comment\n/*.log\n/trace.txt\n/myreport/\n__pycache__/\n";
  EXPECT_TRUE(ignored_at_top(gitignore, "busy.log"));
  EXPECT_TRUE(ignored_at_top(gitignore, "trace.txt"));
  EXPECT_TRUE(ignored_at_top(gitignore, "myreport"));
  EXPECT_TRUE(ignored_at_top(gitignore, "__pycache__"));
  EXPECT_FALSE(ignored_at_top(gitignore, "trace.txt.bak"));
  EXPECT_FALSE(ignored_at_top(gitignore, "hog.py"));
}

// The rules of course.hpp, on their own.
TEST(Shape, DigitsBlanksAndEllipsesAreLoose) {
  EXPECT_TRUE(has_shape({"received 30001 bytes"}, {"received 65483 bytes"}));
  EXPECT_FALSE(has_shape({"received 30001 bytes"}, {"received bytes"}));
  EXPECT_TRUE(has_shape({"LISTEN 0  128  127.0.0.1:2000"}, {"LISTEN   0 4096 127.0.0.1:25001"}));
  EXPECT_TRUE(has_shape({"users:((\"blocking-server\",...))"}, {"users:((\"blocking-server\",pid=7,fd=3))"}));
  EXPECT_FALSE(has_shape({"(a+b)*"}, {"aab"}));  // only `...`, numbers and blanks are loose
  EXPECT_TRUE(line_has_shape("total 30001 bytes", "total 5 bytes"));
  EXPECT_FALSE(line_has_shape("total 30001 bytes", "total 5.5x bytes"));
  EXPECT_TRUE(has_shape({"rtt_p50_us=259.072 x=3.5k/s"}, {"rtt_p50_us=35 x=812/s"}));
  EXPECT_TRUE(has_shape({"99.0% at 127.0.0.1:2000"}, {"7% at 127.0.0.1:31000"}));
  EXPECT_TRUE(has_shape({"share 0.00076"}, {"share 5.9e-05"}));
  EXPECT_TRUE(has_shape({"share 5.9e-05"}, {"share 0.00076"}));
  EXPECT_FALSE(has_shape({"64 KiB"}, {"64 iB"}));
}

TEST(Shape, AnEllipsisLineIsAnyNumberOfLines) {
  const std::vector<std::string> shown = {"received 1 bytes", "...", "chunks 2"};
  EXPECT_TRUE(has_shape(shown, {"received 5 bytes", "chunks 1"}));
  EXPECT_TRUE(has_shape(shown, {"received 5 bytes", "x", "y", "chunks 3"}));
  EXPECT_FALSE(has_shape(shown, {"received 5 bytes"}));
  EXPECT_FALSE(has_shape(shown, {"chunks 3"}));
  EXPECT_TRUE(has_shape({}, {}));
  EXPECT_FALSE(has_shape({}, {"unexpected"}));
}

TEST(Shape, UnorderedPairsLinesInAnyOrder) {
  EXPECT_TRUE(has_shape({"a 1", "b"}, {"b", "a 2"}, true));
  EXPECT_FALSE(has_shape({"a 1", "b"}, {"b", "b"}, true));
  EXPECT_FALSE(has_shape({"a 1", "b"}, {"b", "a 2", "c"}, true));
  EXPECT_TRUE(has_shape({"a 1", "...", "b"}, {"c", "b", "a 2"}, true));
  EXPECT_FALSE(has_shape({"a 1", "b"}, {"b", "a 2"}));  // in order, unless told otherwise
}

TEST(Figures, NumbersInPlaceOfTheShownOnes) {
  EXPECT_EQ(figures("eagain 910, wakeups 911", "eagain 1200, wakeups 7"), (std::vector<double>{1200, 7}));
  EXPECT_EQ(figures("rate 3.5k/s at 2000", "rate 3.48979k/s at 21000"), (std::vector<double>{3489.79, 21000}));
  EXPECT_EQ(figures("share 0.00076", "share 5.9e-05"), std::vector<double>{5.9e-05});
  EXPECT_TRUE(figures("eagain 910", "wakeups 910").empty());  // not the shape: no figures
}

TEST(Figures, AlignmentFollowsEllipsesAndAnyOrder) {
  const std::vector<std::string> shown = {"a 1", "...", "b 2"};
  auto in_order = align(shown, {"a 5", "x", "y", "b 6"});
  ASSERT_TRUE(in_order);
  EXPECT_EQ(*in_order, (Alignment{0, std::nullopt, 3}));
  auto any_order = align({"a 1", "b 2"}, {"b 6", "a 5"}, true);
  ASSERT_TRUE(any_order);
  EXPECT_EQ(*any_order, (Alignment{1, 0}));
  EXPECT_FALSE(align(shown, {"b 6"}));
}

TEST(Figures, RangeDirectiveChecksThePrintedFigure) {
  const std::string md =
      "```console\n$ run\nanswered in 0.201 s\neagain 910\nidle_turns 911\n```\n"
      "<!-- docs-test: range \"answered in 0.201\" 0..0.25; range \"eagain 910\" 500..1100 -->\n";
  auto examples = parse_examples(md, "x.md");
  ASSERT_EQ(examples.size(), 1u);
  const Command& c = examples[0].commands[0];
  ASSERT_EQ(c.ranges.size(), 2u);
  EXPECT_EQ(c.ranges[1].shown, 1u);
  EXPECT_EQ(c.ranges[1].number, 0u);
  EXPECT_TRUE(figures_out_of_range(c, {"answered in 0.012 s", "eagain 1100", "idle_turns 1"}).empty());
  EXPECT_EQ(figures_out_of_range(c, {"answered in 0.3 s", "eagain 499", "idle_turns 1"}).size(), 2u);
  EXPECT_TRUE(figures_out_of_range(c, {"not the shape"}).empty());  // reported as a shape failure instead

  // The second number of a line, in a later block that continues the first.
  auto two = parse_examples(md + "```console\n$ more\nchunks 3, min 52\n```\n"
                                 "<!-- docs-test: continues; range \"chunks 3, min 52\" 1..100 -->\n",
                            "x.md");
  ASSERT_EQ(two[0].commands.size(), 2u);
  EXPECT_EQ(two[0].commands[1].ranges.at(0).number, 1u);
  EXPECT_EQ(figures_out_of_range(two[0].commands[1], {"chunks 9, min 101"}).size(), 1u);

  auto bad = [](const std::string& directive) {
    return "```console\n$ run\neagain 910\neagain 910 again\nwakeups 5\n```\n<!-- docs-test: " + directive + " -->\n";
  };
  EXPECT_THROW(parse_examples(bad("range \"wakeups 5\" 6..9"), "x.md"), std::runtime_error);  // shown out of its range
  EXPECT_THROW(parse_examples(bad("range \"eagain 910\" 0..1000"), "x.md"), std::runtime_error);  // two lines
  EXPECT_THROW(parse_examples(bad("range \"nowhere 1\" 0..1"), "x.md"), std::runtime_error);
  EXPECT_THROW(parse_examples(bad("range \"wakeups\" 0..9"), "x.md"), std::runtime_error);  // no figure
  EXPECT_THROW(parse_examples(bad("range \"eagain 91\" 0..999"), "x.md"), std::runtime_error);  // part of one
  EXPECT_NO_THROW(parse_examples(bad("range \"s 5\" 0..9"), "x.md"));
  EXPECT_EQ(parse_examples("```console\n$ a\n100% of one CPU\n```\n<!-- docs-test: range \"100% of\" 10..105 -->\n",
                           "x.md")[0].commands[0].ranges.size(), 1u);
  EXPECT_THROW(parse_examples(bad("range \"wakeups 5\" 9..0"), "x.md"), std::runtime_error);
  EXPECT_THROW(parse_examples(bad("range wakeups 5 0..9"), "x.md"), std::runtime_error);  // no quotes
  EXPECT_NO_THROW(parse_examples(bad("range \"wakeups 5\" 5..5"), "x.md"));
}

TEST(Parse, BlocksCommandsDirectives) {
  const std::string md =
      "text\n```sh\n$ not run\n```\n"
      "```console\n$ server --port 2000 &\nlistening on 127.0.0.1:2000\n$ client\nhello\n```\n"
      "<!-- docs-test: needs ss; timeout 3 -->\n"
      "```console\n$ cat > a <<EOF\n> x\n>\n> EOF\n$ kill %1; wait\n```\n<!-- docs-test: continues -->\n"
      "```console\n$ other\n```\n";
  auto examples = parse_examples(md, "01-x.md");
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_EQ(examples[0].name, "01_x_1");
  ASSERT_EQ(examples[0].commands.size(), 4u);
  EXPECT_TRUE(examples[0].commands[0].background());
  EXPECT_FALSE(examples[0].commands[1].background());
  EXPECT_EQ(examples[0].commands[1].expected, std::vector<std::string>{"hello"});
  EXPECT_EQ(examples[0].commands[2].text, "cat > a <<EOF\nx\n\nEOF");
  EXPECT_TRUE(examples[0].commands[2].expected.empty());
  EXPECT_EQ(examples[0].commands[3].line, 17);
  EXPECT_EQ(examples[0].needs, std::vector<std::string>{"ss"});
  EXPECT_EQ(examples[0].timeout, std::chrono::seconds(3 + 15));
  EXPECT_EQ(examples[1].commands[0].text, "other");
  EXPECT_THROW(parse_examples("```console\noutput first\n```\n", "x.md"), std::runtime_error);
  EXPECT_THROW(parse_examples("```console\n$ a\n```\n<!-- docs-test: bogus -->\n", "x.md"), std::runtime_error);
}

}  // namespace
}  // namespace muxlab::docs
