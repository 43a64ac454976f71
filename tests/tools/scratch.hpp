// scratch.hpp - what the tools tests share: a scratch directory, and commands
// run as a user without privileges.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "harness/child.hpp"

namespace muxlab::tools {

// A fresh directory under /tmp, readable by every user (the unprivileged cases
// run their commands from it); removed with its contents at the end of the scope.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

  // Writes a file `name` here with `text`, executable if asked; returns its path.
  std::filesystem::path write(const std::string& name, const std::string& text, bool executable = false) const;

 private:
  std::filesystem::path path_;
};

// Runs command[0] with the rest as arguments; as root, first becomes the user
// nobody (setpriv(1)), which has no capabilities: what a user without root sees.
harness::RunResult run_unprivileged(const std::vector<std::string>& command);

}  // namespace muxlab::tools
