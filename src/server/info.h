// INFO: the server's report in Redis's "# Section\r\nkey:value\r\n" format.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tandem::server {

class Server;

// Sections as INFO takes them: none = "default"; "all", "everything" or
// section names (case-insensitive).
std::string BuildInfo(Server& server, const std::vector<std::string_view>& sections);

// "1.50M" style, as Redis's *_human fields.
std::string HumanBytes(size_t bytes);

}  // namespace tandem::server
