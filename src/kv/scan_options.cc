#include "kv/scan_options.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string>

namespace tandem::kv {

bool ParseScanArgs(CommandContext& ctx, size_t cursor_index, bool allow_type, ScanOptions* out) {
  // Redis parses the cursor with strtoull: digits only after an optional
  // sign, no leading space, no overflow.
  std::string cursor(ctx.args[cursor_index]);
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(cursor.c_str(), &end, 10);
  if (cursor.empty() || std::isspace(static_cast<unsigned char>(cursor[0])) ||
      end != cursor.c_str() + cursor.size() || errno == ERANGE) {
    ctx.ReplyError("ERR invalid cursor");
    return false;
  }
  out->cursor = value;
  for (size_t i = cursor_index + 1; i < ctx.args.size(); i += 2) {
    std::string_view opt = ctx.args[i];
    bool has_value = i + 1 < ctx.args.size();
    if (has_value && EqualsIgnoreCase(opt, "count")) {
      int64_t count;
      if (!ParseInt64(ctx.args[i + 1], &count)) {
        ctx.ReplyNotInteger();
        return false;
      }
      if (count < 1) {
        ctx.ReplySyntaxError();
        return false;
      }
      out->count = static_cast<size_t>(count);
    } else if (has_value && EqualsIgnoreCase(opt, "match")) {
      out->pattern = ctx.args[i + 1] == "*" ? std::string_view() : ctx.args[i + 1];
    } else if (has_value && allow_type && EqualsIgnoreCase(opt, "type")) {
      out->type = ctx.args[i + 1];
    } else {
      ctx.ReplySyntaxError();
      return false;
    }
  }
  return true;
}

}  // namespace tandem::kv
