#include "server/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace tandem::server {

Status SetUpLogging(const std::string& level, const std::string& file, uint64_t node_id) {
  try {
    std::shared_ptr<spdlog::logger> logger;
    if (file.empty()) {
      logger = spdlog::stderr_logger_mt("tandemd");
    } else {
      logger = spdlog::basic_logger_mt("tandemd", file);
    }
    logger->set_pattern(fmt::format("%Y-%m-%d %H:%M:%S.%e [node {}] %^%l%$ %v", node_id));
    logger->set_level(spdlog::level::from_str(level));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
  } catch (const spdlog::spdlog_ex& e) {
    return Status::IOError(std::string("cannot set up logging: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace tandem::server
