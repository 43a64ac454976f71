// course.hpp - the runnable examples of docs/*.md, and the shape their output must keep.
//
// An example is a ```console block: `$ command` lines, each followed by the output
// it shows (a command goes on over `> ` lines, as a here-document does in a terminal). The shown output is also the check, read as a shape:
//   - a line `...` stands for any number of lines (none included);
//   - inside a line, `...` stands for any text, a number for any number (259.072,
//     35, 5.9e-05 and 3.48979k alike), a run of blanks for any run of blanks;
//     everything else must be there as shown.
// So "received 30001 bytes" also matches "received 65483 bytes", and the ports,
// pids and byte counts that change from run to run never make the course drift.
//
// An HTML comment right after the block can say more, `;`-separated:
//   <!-- docs-test: continues; needs ss; timeout 20 -->
//   continues   runs in the same shell as the block before (its servers, its jobs)
//   unordered   the block's outputs may come in any order (ss lists sockets as
//               its hash tables hold them); a `...` line then allows extra lines
//   needs TOOL  skipped, saying so, when TOOL is not installed
//   needs root  skipped, saying so, when the test does not run as root
//   timeout S   seconds for the whole example (default 15)
//   range "TEXT" LOW..HIGH
//               a figure the chapter states, held to the range its prose gives:
//               TEXT is a piece of one shown line of this block, and its last
//               number is the figure (`range "eagain 910" 500..1100`,
//               `range "100% of" 10..105`); the number printed in its place must
//               lie in LOW..HIGH (bounds included), and so must the figure shown.
// Pure: no files, no processes, so the rules are tested on their own.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace muxlab::docs {

// A figure the chapter states, and the range its prose gives for it.
struct Range {
  std::size_t shown = 0;   // which line of Command::expected holds it
  std::size_t number = 0;  // which number of that line it is (0: the first)
  double low = 0, high = 0;
  std::string text;        // the directive's TEXT, for messages
};

struct Command {
  std::string text;                   // as written after "$ " (and "> " lines, joined by '\n')
  std::vector<std::string> expected;  // the output lines shown after it
  int line = 0;                       // where it is in the file (1-based)
  bool unordered = false;             // its output lines may come in any order
  std::vector<Range> ranges;          // figures of `expected` held to a range

  // Ends in `&`: a background job. The runner waits for the output shown for it.
  bool background() const;
};

struct Example {
  std::string file;  // "01-the-pair.md"
  int line = 0;      // of the opening fence of its first block
  std::string name;  // a gtest-safe name: "01_the_pair_1"
  std::vector<Command> commands;
  std::vector<std::string> needs;  // tools that must be on PATH
  std::chrono::seconds timeout{15};
};

// Every example of one markdown file, in order. Throws std::runtime_error, naming
// the file and line, on a block or directive it cannot read.
std::vector<Example> parse_examples(std::string_view markdown, const std::string& file);

// Does one printed line have the shape of one shown line?
bool line_has_shape(std::string_view shown, const std::string& line);

// Does `actual` have the shape that `shown` describes (in any order if `unordered`)?
bool has_shape(const std::vector<std::string>& shown, const std::vector<std::string>& actual,
               bool unordered = false);

// Where each shown line found its printed line: an index into `actual`, or none
// for a `...` line. Empty if `actual` does not have the shape.
using Alignment = std::vector<std::optional<std::size_t>>;
std::optional<Alignment> align(const std::vector<std::string>& shown, const std::vector<std::string>& actual,
                               bool unordered = false);

// The numbers of a printed line that stand where its shown line has numbers, in
// order (3.48979k is 3489.79). Empty if the line does not have the shape.
std::vector<double> figures(std::string_view shown, const std::string& line);

// One message for each figure of `command` printed outside its range (none if
// all are in range, or if `actual` does not have the shape: that is reported
// on its own).
std::vector<std::string> figures_out_of_range(const Command& command, const std::vector<std::string>& actual);

}  // namespace muxlab::docs
