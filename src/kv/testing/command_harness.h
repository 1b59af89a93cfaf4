// CommandHarness: runs data commands against a leader StateMachine and
// checks the determinism contract (command.h) after every command.
//
// Usage in a test:
//   kv::testing::CommandHarness h;              // RESP2, clock at kStartMs
//   EXPECT_EQ(h.Run({"SET", "k", "v"}), "+OK\r\n");
//   h.AdvanceClock(1500);
//   EXPECT_EQ(h.Run({"GET", "k"}), "$1\r\nv\r\n");
//   EXPECT_EQ(h.ReplicaRead({"GET", "k"}), ...);  // kReplicaRead on the follower
//   EXPECT_EQ(h.last_propagated(), (std::vector<kv::Argv>{{"set", "k", "v"}}));
//
// Run() executes in kLeader mode at now_ms(). Whatever the command
// propagated is encoded with EncodeRecord, decoded with DecodeRecord and
// applied in kApply mode to a second "follower" StateMachine; then the
// harness EXPECTs that Apply succeeded and both digests are equal. So every
// command test also checks that the propagated commands reproduce the
// leader's change exactly.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "kv/record.h"
#include "kv/state_machine.h"
#include "resp/writer.h"

namespace tandem::kv::testing {

class CommandHarness {
 public:
  static constexpr int64_t kStartMs = 1'700'000'000'000;  // Nov 2023

  explicit CommandHarness(resp::Protocol protocol = resp::Protocol::kResp2) : protocol_(protocol) {}

  void SetProtocol(resp::Protocol p) { protocol_ = p; }
  void AdvanceClock(int64_t ms) { now_ms_ += ms; }
  void SetClock(int64_t ms) { now_ms_ = ms; }
  int64_t now_ms() const { return now_ms_; }

  // Runs a client command on the leader; returns the raw RESP reply.
  std::string Run(std::initializer_list<std::string_view> args) {
    return Run(std::vector<std::string_view>(args));
  }
  std::string Run(const std::vector<std::string>& args) {
    return Run(std::vector<std::string_view>(args.begin(), args.end()));
  }
  std::string Run(const std::vector<std::string_view>& args) {
    std::string out;
    resp::Writer writer(&out, protocol_);
    StateMachine::ExecResult result = leader_.Execute(args, writer, now_ms_, ExecMode::kLeader);
    last_record_ = result.record;
    Replicate(result.record);
    return out;
  }

  // Runs a read on the follower in kReplicaRead mode (same clock).
  std::string ReplicaRead(std::initializer_list<std::string_view> args) {
    std::string out;
    resp::Writer writer(&out, protocol_);
    std::vector<std::string_view> argv(args);
    follower_.Execute(argv, writer, now_ms_, ExecMode::kReplicaRead);
    return out;
  }

  // Runs the leader's active expiry cycle and replicates its record;
  // returns how many keys it deleted.
  size_t ExpireCycle(size_t budget = 1000) {
    Record r = leader_.ExpireCycle(now_ms_, budget);
    last_record_ = r;
    Replicate(r);
    return r.commands.empty() ? 0 : r.commands[0].size() - 1;
  }

  // What the last Run / ExpireCycle propagated.
  const std::vector<Argv>& last_propagated() const { return last_record_.commands; }

  StateMachine& leader() { return leader_; }
  StateMachine& follower() { return follower_; }

 private:
  void Replicate(const Record& record) {
    if (!record.commands.empty()) {
      std::string bytes = EncodeRecord(record);
      Result<Record> decoded = DecodeRecord(bytes);
      EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
      if (decoded.ok()) {
        EXPECT_EQ(decoded->now_ms, record.now_ms);
        EXPECT_EQ(decoded->commands, record.commands);
        Status st = follower_.Apply(*decoded);
        EXPECT_TRUE(st.ok()) << st.ToString();
      }
    }
    EXPECT_EQ(leader_.Digest(), follower_.Digest()) << "leader and follower diverged";
    EXPECT_EQ(leader_.keyspace().size(), follower_.keyspace().size());
  }

  resp::Protocol protocol_;
  int64_t now_ms_ = kStartMs;
  StateMachine leader_;
  StateMachine follower_;
  Record last_record_;
};

}  // namespace tandem::kv::testing
