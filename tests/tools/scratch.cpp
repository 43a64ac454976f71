#include "tests/tools/scratch.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

namespace muxlab::tools {

namespace fs = std::filesystem;

ScratchDir::ScratchDir() {
  std::string name = (fs::temp_directory_path() / "muxlab-tools-XXXXXX").string();
  if (::mkdtemp(name.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = name;
  fs::permissions(path_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

fs::path ScratchDir::write(const std::string& name, const std::string& text, bool executable) const {
  const fs::path file = path_ / name;
  std::ofstream(file) << text;
  if (executable) fs::permissions(file, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                                  fs::perm_options::add);
  return file;
}

harness::RunResult run_unprivileged(const std::vector<std::string>& command) {
  if (::geteuid() != 0) return harness::run_program(command.front(), {command.begin() + 1, command.end()});
  std::vector<std::string> args = {"--reuid=65534", "--regid=65534", "--clear-groups"};
  args.insert(args.end(), command.begin(), command.end());
  return harness::run_program("/usr/bin/setpriv", args);
}

}  // namespace muxlab::tools
