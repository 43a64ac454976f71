#include "tests/conformance/fixture.hpp"

#include "tests/conformance/requirements.hpp"

namespace muxlab::conformance {

void ServerConformance::SetUpTestSuite() { raise_open_file_limit(); }

void ServerConformance::SetUp() {
  if (const std::string why = unavailable_reason(spec()); !why.empty()) GTEST_SKIP() << why;
}

std::vector<std::string> ServerConformance::server_args(const std::vector<std::string>& more) const {
  std::vector<std::string> args = {"--port", "0", "--stats"};
  args.insert(args.end(), spec().args.begin(), spec().args.end());
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

ServerProcess ServerConformance::start(const std::vector<std::string>& more, const SpawnOptions& options) const {
  return ServerProcess::start(binary_path(spec()), server_args(more), options);
}

ServerStats ServerConformance::stop(ServerProcess& server, int signo, std::chrono::milliseconds timeout) {
  server.signal(signo);
  auto exit = server.wait(timeout);
  if (!exit) {
    ADD_FAILURE() << "the server did not exit within " << timeout.count() << " ms of signal " << signo;
  } else if (!exit->exited || exit->code != 0) {
    ADD_FAILURE() << "the server " << (exit->exited ? "exited with code " : "was killed by signal ") << exit->code
                  << "; stderr:\n"
                  << server.stderr_text();
  }
  return ServerStats(server.stderr_text());
}

std::string reply_to(std::string_view payload, std::size_t repeat) {
  std::string out;
  out.reserve(payload.size() * repeat + 1);
  for (std::size_t i = 0; i < repeat; ++i) out += payload;
  out += '\n';
  return out;
}

namespace {

// How gtest names a case's run for a model: the model's name ("epoll_edge").
std::string model_test_name(const ::testing::TestParamInfo<ServerSpec>& param) { return harness::test_name(param.param); }

// The models of harness/models.hpp that `applies` accepts.
template <typename Predicate>
std::vector<ServerSpec> models_where(Predicate applies) {
  std::vector<ServerSpec> models;
  for (const auto& model : harness::all_models())
    if (applies(model)) models.push_back(model);
  return models;
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(AllModels, ServerConformance, ::testing::ValuesIn(harness::all_models()), model_test_name);
INSTANTIATE_TEST_SUITE_P(ConcurrentModels, ConcurrentServerConformance,
                         ::testing::ValuesIn(models_where([](const ServerSpec& m) { return m.concurrent; })),
                         model_test_name);
INSTANTIATE_TEST_SUITE_P(IdleScalingModels, IdleScalingConformance,
                         ::testing::ValuesIn(models_where([](const ServerSpec& m) { return m.idle_test_connections > 0; })),
                         model_test_name);
INSTANTIATE_TEST_SUITE_P(FdSetModels, FdSetConformance,
                         ::testing::ValuesIn(models_where([](const ServerSpec& m) { return m.fd_ceiling > 0; })),
                         model_test_name);

}  // namespace muxlab::conformance
