// The README's table of programs against the one list of models
// (harness/models.hpp): every model's program and folder are in it.
#include <gtest/gtest.h>

#include <sstream>

#include "harness/models.hpp"
#include "tests/bench/common.hpp"

namespace muxlab::bench_test {
namespace {

TEST(Readme, TableOfProgramsNamesEveryModel) {
  const std::string readme = read_file(source("README.md"));
  std::vector<std::string> rows;  // the table's lines: "| `program` | [folder/](folder/) | ... |"
  std::istringstream lines(readme);
  for (std::string line; std::getline(lines, line);)
    if (line.starts_with("| `")) rows.push_back(line);
  ASSERT_FALSE(rows.empty()) << "no table of programs in README.md";
  for (const auto& m : harness::all_models()) {
    const std::string program = "| `" + m.binary + "` | [" + m.folder + "/](" + m.folder + "/) |";
    bool found = false;
    for (const auto& row : rows) found = found || row.starts_with(program);
    EXPECT_TRUE(found) << "README.md's table of programs has no row starting " << program << " (model " << m.name
                       << ")";
  }
}

}  // namespace
}  // namespace muxlab::bench_test
