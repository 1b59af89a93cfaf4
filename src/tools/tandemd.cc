// tandemd: the Tandem server. Flags and defaults: docs/configuration.md.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "server/config.h"
#include "server/logging.h"
#include "server/server.h"
#include "util/allocator.h"
#include "util/heap_prefault.h"

// jemalloc reads its options from this symbol before main: the heap asks
// for transparent huge pages (util/allocator.h) whenever the process allows
// them; --huge-pages says when (main forbids them for `off` once the flags
// are parsed, the server switches them for `auto`). Keys MALLOC_CONF sets
// in the environment override these. Unused under glibc's malloc (also
// with jemalloc preloaded: then this symbol is not exported).
extern "C" {
const char* malloc_conf = tandem::kTandemJemallocConf;
}

int main(int argc, char** argv) {
  auto config = tandem::server::ParseCommandLine(argc, argv);
  if (!config.ok()) {
    if (config.status().IsNotFound()) return 0;  // --help / --version printed
    std::fprintf(stderr, "tandemd: %s\n", config.status().message().c_str());
    return 2;
  }
  // Allowed for recovery unless `off` (the flag is inherited: a launcher may
  // have forbidden them); the server switches them for `auto`.
  bool allow_huge_pages = config->huge_pages != tandem::server::HugePages::kNever;
  if (allow_huge_pages != tandem::TransparentHugePagesAllowed() &&
      !tandem::SetTransparentHugePages(allow_huge_pages)) {
    std::perror("tandemd: prctl(PR_SET_THP_DISABLE)");  // runs on as it is
  }
  tandem::Status st =
      tandem::server::SetUpLogging(config->log_level, config->log_file, config->node_id);
  if (!st.ok()) {
    std::fprintf(stderr, "tandemd: %s\n", st.ToString().c_str());
    return 2;
  }
  if (config->heap_prefault) {
    std::string why = tandem::InstallHeapPrefault();
    if (!why.empty()) spdlog::warn("--heap-prefault on, but it cannot work here: {}", why);
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
