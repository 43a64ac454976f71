// placeholder: replaced by the libevent-server work (issue 4)
#include "core/options.hpp"
#include "core/signals.hpp"
#include "core/socket.hpp"
int main(int argc, char** argv) {
  auto options = muxlab::core::parse_server_options(argc, argv, "libevent-server", "placeholder");
  (void)options;
  return 1;
}
