// tandemd: the Tandem server. Flags and defaults: docs/configuration.md.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "server/config.h"
#include "server/logging.h"
#include "server/server.h"

int main(int argc, char** argv) {
  auto config = tandem::server::ParseCommandLine(argc, argv);
  if (!config.ok()) {
    if (config.status().IsNotFound()) return 0;  // --help / --version printed
    std::fprintf(stderr, "tandemd: %s\n", config.status().message().c_str());
    return 2;
  }
  tandem::Status st =
      tandem::server::SetUpLogging(config->log_level, config->log_file, config->node_id);
  if (!st.ok()) {
    std::fprintf(stderr, "tandemd: %s\n", st.ToString().c_str());
    return 2;
  }
  tandem::server::Server server(*config);
  st = server.Start();
  if (!st.ok()) {
    spdlog::critical("cannot start: {}", st.ToString());
    std::fprintf(stderr, "tandemd: cannot start: %s\n", st.ToString().c_str());
    return 1;
  }
  return server.Run();
}
