// sandbox.hpp - running one example of the course the way a student would.
//
// The example's commands run in order in one bash, in a fresh temporary
// directory that looks like the repository root: build/bin is the build's bin
// directory, and the sources (bench/, docs/, select/, ...) are links to the
// repository's, so `build/bin/...` and `bench/report.py` work as written. Every port 2000..2009 in a command becomes a free port of its
// own, so examples can run in parallel with each other and with other tests.
// A background command (`... &`) that shows output is waited for: the next
// command starts once the lines shown (a server's `listening on`) have been
// printed. Whatever the example leaves running is killed at its end.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tests/docs/course.hpp"

namespace muxlab::docs {

struct Transcript {
  std::vector<std::vector<std::string>> outputs;  // per command: its stdout and stderr lines
  std::vector<std::string> left_running;          // `jobs -r` at the end: should be empty
  std::vector<std::string> written;               // what the example left in the student's directory
  bool timed_out = false;
  std::string script;                             // what bash ran, for failure messages
  std::string output;                             // all it printed, markers included
};

Transcript run_example(const Example& example, const std::filesystem::path& bin_dir,
                       const std::filesystem::path& source_dir);

// The first of `needs` this machine lacks: a tool not on PATH, or `root` when
// the test does not run as root; empty if it has them all.
std::string missing_tool(const std::vector<std::string>& needs);

// The programs under build/bin/ that the example runs.
std::vector<std::string> programs_used(const Example& example);

}  // namespace muxlab::docs
