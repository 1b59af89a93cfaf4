#include "util/status.h"

#include <cerrno>
#include <cstring>

namespace tandem {

Status Status::FromErrno(std::string_view context, int err) {
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return NoSpace(std::move(msg));
  return IOError(std::move(msg));
}

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kNotFound: name = "NotFound"; break;
    case Code::kCorruption: name = "Corruption"; break;
    case Code::kInvalidArgument: name = "InvalidArgument"; break;
    case Code::kIOError: name = "IOError"; break;
    case Code::kNoSpace: name = "NoSpace"; break;
    case Code::kBusy: name = "Busy"; break;
    case Code::kUnavailable: name = "Unavailable"; break;
  }
  return std::string(name) + ": " + message_;
}

}  // namespace tandem
