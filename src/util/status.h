// Status: the outcome of an operation that can fail, as a value (no exceptions
// cross storage or replication boundaries). An OK status carries no message.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace tandem {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,
    kCorruption,       // on-disk or on-wire data failed validation
    kInvalidArgument,  // caller error; nothing was changed
    kIOError,          // an OS call failed
    kNoSpace,          // ENOSPC / EDQUOT: disk full, retry later
    kBusy,             // resource in use (e.g. a snapshot already running)
    kUnavailable,      // not now: not leader, shutting down, ...
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status NoSpace(std::string msg) { return Status(Code::kNoSpace, std::move(msg)); }
  static Status Busy(std::string msg) { return Status(Code::kBusy, std::move(msg)); }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  // Builds an IOError (or NoSpace for ENOSPC/EDQUOT) from an errno value.
  static Status FromErrno(std::string_view context, int err);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsNoSpace() const { return code_ == Code::kNoSpace; }
  bool IsBusy() const { return code_ == Code::kBusy; }
  const std::string& message() const { return message_; }
  // "OK" or "<code name>: <message>".
  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace tandem

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define TANDEM_RETURN_IF_ERROR(expr)        \
  do {                                      \
    ::tandem::Status _st = (expr);          \
    if (!_st.ok()) return _st;              \
  } while (0)
