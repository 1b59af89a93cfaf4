#include "kv/record.h"

#include "util/coding.h"

namespace tandem::kv {
namespace {
constexpr uint8_t kRecordVersion = 1;
}

std::string EncodeRecord(const Record& r) {
  std::string out;
  out.push_back(static_cast<char>(kRecordVersion));
  PutFixed64(&out, static_cast<uint64_t>(r.now_ms));
  PutVarint64(&out, r.commands.size());
  for (const Argv& argv : r.commands) {
    PutVarint64(&out, argv.size());
    for (const std::string& arg : argv) PutLengthPrefixed(&out, arg);
  }
  return out;
}

Status DecodeRecordView(std::string_view bytes, RecordView* out) {
  out->args.clear();
  out->command_ends.clear();
  if (bytes.size() < 9) return Status::Corruption("record: truncated header");
  if (static_cast<uint8_t>(bytes[0]) != kRecordVersion) {
    return Status::Corruption("record: unknown version " +
                              std::to_string(static_cast<uint8_t>(bytes[0])));
  }
  out->now_ms = static_cast<int64_t>(DecodeFixed64(bytes.data() + 1));
  std::string_view in = bytes.substr(9);
  uint64_t count;
  // Every command takes at least 2 bytes (argc, one empty arg), every
  // argument at least 1: bound counts by the bytes left before reserving.
  if (!GetVarint64(&in, &count) || count > in.size() / 2) {
    return Status::Corruption("record: bad command count");
  }
  out->command_ends.reserve(count);
  for (uint64_t c = 0; c < count; ++c) {
    uint64_t argc;
    if (!GetVarint64(&in, &argc) || argc == 0 || argc > in.size()) {
      return Status::Corruption("record: bad argument count");
    }
    for (uint64_t a = 0; a < argc; ++a) {
      std::string_view arg;
      if (!GetLengthPrefixed(&in, &arg)) return Status::Corruption("record: truncated argument");
      out->args.push_back(arg);
    }
    out->command_ends.push_back(out->args.size());
  }
  if (!in.empty()) return Status::Corruption("record: trailing bytes");
  return Status::Ok();
}

Result<Record> DecodeRecord(std::string_view bytes) {
  RecordView view;
  TANDEM_RETURN_IF_ERROR(DecodeRecordView(bytes, &view));
  Record r;
  r.now_ms = view.now_ms;
  r.commands.reserve(view.command_count());
  for (size_t c = 0; c < view.command_count(); ++c) {
    auto command = view.command(c);
    r.commands.emplace_back(command.begin(), command.end());
  }
  return r;
}

}  // namespace tandem::kv
