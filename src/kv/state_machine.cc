#include "kv/state_machine.h"

#include <fmt/format.h>

#include <vector>

#include "kv/snapshot_entry.h"

namespace tandem::kv {
namespace {

bool ArityOk(const CommandSpec& spec, size_t argc) {
  if (spec.arity >= 0) return argc == static_cast<size_t>(spec.arity);
  return argc >= static_cast<size_t>(-spec.arity);
}

// Redis 7.0's text: the name as sent (up to 128 bytes) and the first
// arguments, quoted, while the list is under 128 bytes.
std::string UnknownCommandError(std::span<const std::string_view> args) {
  std::string list;
  for (size_t i = 1; i < args.size() && list.size() < 128; ++i) {
    size_t room = 128 - list.size();
    list += fmt::format("'{}' ", args[i].substr(0, room));
  }
  return fmt::format("ERR unknown command '{}', with args beginning with: {}",
                     args[0].substr(0, 128), list);
}

uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

StateMachine::ExecResult StateMachine::Execute(std::span<const std::string_view> args,
                                               resp::Writer& reply, int64_t now_ms, ExecMode mode) {
  ExecResult result;
  result.record.now_ms = now_ms;
  if (args.empty()) {
    result.known = false;
    reply.Error("ERR unknown command '', with args beginning with: ");
    return result;
  }
  const CommandSpec* spec = FindDataCommand(args[0]);
  if (spec == nullptr) {
    result.known = false;
    reply.Error(UnknownCommandError(args));
    return result;
  }
  result.write = (spec->flags & kCmdWrite) != 0;
  if (!ArityOk(*spec, args.size())) {
    reply.Error(fmt::format("ERR wrong number of arguments for '{}' command", spec->name));
    return result;
  }
  if (mode == ExecMode::kReplicaRead && result.write) {
    reply.Error("READONLY You can't write against a read only replica.");
    return result;
  }
  db_.SetAccessClock(now_ms);
  CommandContext ctx(args, reply, db_, now_ms, mode, SplitMix(&random_state_),
                     &result.record.commands);
  spec->handler(ctx);
  return result;
}

Status StateMachine::ApplyEncoded(std::string_view encoded_record) {
  TANDEM_RETURN_IF_ERROR(DecodeRecordView(encoded_record, &decoded_));
  return ApplyView(decoded_);
}

Status StateMachine::Apply(const Record& record) {
  RecordView view;
  view.now_ms = record.now_ms;
  for (const Argv& argv : record.commands) {
    view.args.insert(view.args.end(), argv.begin(), argv.end());
    view.command_ends.push_back(view.args.size());
  }
  return ApplyView(view);
}

Status StateMachine::ApplyView(const RecordView& record) {
  std::string& discarded = apply_replies_;
  resp::Writer sink(&discarded);
  for (size_t c = 0; c < record.command_count(); ++c) {
    std::span<const std::string_view> args = record.command(c);
    const CommandSpec* spec = args.empty() ? nullptr : FindDataCommand(args[0]);
    if (spec == nullptr) {
      return Status::Corruption("apply: unknown command in record");
    }
    if (!ArityOk(*spec, args.size())) {
      return Status::Corruption(fmt::format("apply: wrong arity for '{}'", spec->name));
    }
    discarded.clear();
    db_.SetAccessClock(record.now_ms);
    CommandContext ctx(args, sink, db_, record.now_ms, ExecMode::kApply, SplitMix(&random_state_),
                       nullptr);
    spec->handler(ctx);
    // A logged command ran successfully on the leader against the same
    // state; failing here means the log or the state diverged.
    if (!discarded.empty() && discarded[0] == '-') {
      return Status::Corruption(
          fmt::format("apply: '{}' failed: {}", spec->name, discarded.substr(1)));
    }
  }
  return Status::Ok();
}

Record StateMachine::ExpireCycle(int64_t now_ms, size_t budget) {
  constexpr size_t kSampleSize = 20;
  Record record;
  record.now_ms = now_ms;
  Argv del{"del"};
  std::vector<std::string> expired;
  while (budget > 0 && db_.expires_count() > 0) {
    size_t sample = std::min({kSampleSize, budget, db_.expires_count()});
    budget -= sample;
    expired.clear();
    db_.SampleExpiring(SplitMix(&random_state_), sample, [&](std::string_view key, int64_t at) {
      if (at <= now_ms) expired.emplace_back(key);
    });
    for (std::string& key : expired) {
      db_.Erase(key);
      del.push_back(std::move(key));
    }
    // Like Redis: keep going only while more than 25% of a sample expired.
    if (expired.size() * 4 <= sample) break;
  }
  if (del.size() > 1) record.commands.push_back(std::move(del));
  return record;
}

std::string StateMachine::Digest() const {
  uint64_t a = 0, b = 0, c = 0;
  db_.ForEach([&](std::string_view key, const Object& value, int64_t expire_at) {
    a += KeyDigest(key, value, expire_at, 1);
    b += KeyDigest(key, value, expire_at, 2);
    c += KeyDigest(key, value, expire_at, 3);
  });
  return fmt::format("{:016x}{:016x}{:08x}", a, b, static_cast<uint32_t>(c));
}

Status StateMachine::WriteSnapshot(
    const std::function<Status(std::string_view entry)>& sink) const {
  Status status;
  std::string entry;
  db_.ForEach([&](std::string_view key, const Object& value, int64_t expire_at) {
    if (!status.ok()) return;
    entry.clear();
    EncodeSnapshotEntry(key, value, expire_at, &entry);
    status = sink(entry);
  });
  return status;
}

Status StateMachine::LoadSnapshotEntry(std::string_view entry) {
  DecodedEntry decoded;
  TANDEM_RETURN_IF_ERROR(DecodeSnapshotEntry(entry, &decoded));
  if (db_.Find(decoded.key) != nullptr) {
    return Status::Corruption("snapshot entry: duplicate key");
  }
  db_.Set(decoded.key, std::move(decoded.value));
  if (decoded.expire_at != kNoExpire) db_.SetExpire(decoded.key, decoded.expire_at);
  return Status::Ok();
}

}  // namespace tandem::kv
