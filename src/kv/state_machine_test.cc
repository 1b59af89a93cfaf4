#include "kv/state_machine.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kv/testing/command_harness.h"

namespace tandem::kv {
namespace {

using testing::CommandHarness;

std::string Exec(StateMachine& sm, std::vector<std::string_view> args, int64_t now = 1000) {
  std::string out;
  resp::Writer w(&out);
  sm.Execute(args, w, now, ExecMode::kLeader);
  return out;
}

TEST(StateMachineTest, UnknownCommandErrorMatchesRedis) {
  StateMachine sm;
  std::string out;
  resp::Writer w(&out);
  std::vector<std::string_view> args{"FooBar", "a", "b"};
  StateMachine::ExecResult r = sm.Execute(args, w, 0, ExecMode::kLeader);
  EXPECT_FALSE(r.known);
  EXPECT_EQ(out, "-ERR unknown command 'FooBar', with args beginning with: 'a' 'b' \r\n");
  EXPECT_EQ(Exec(sm, {"nope"}), "-ERR unknown command 'nope', with args beginning with: \r\n");
}

TEST(StateMachineTest, UnknownCommandArgsAreTruncated) {
  StateMachine sm;
  std::string long_arg(200, 'x');
  std::string out = Exec(sm, {"nope", long_arg, "next"});
  // The argument list stops once it reaches 128 bytes.
  EXPECT_EQ(out, "-ERR unknown command 'nope', with args beginning with: '" +
                     std::string(128, 'x') + "' \r\n");
}

TEST(StateMachineTest, ArityErrors) {
  StateMachine sm;
  EXPECT_EQ(Exec(sm, {"DEL"}), "-ERR wrong number of arguments for 'del' command\r\n");
  EXPECT_EQ(Exec(sm, {"type", "a", "b"}), "-ERR wrong number of arguments for 'type' command\r\n");
  EXPECT_EQ(Exec(sm, {"dbsize", "x"}), "-ERR wrong number of arguments for 'dbsize' command\r\n");
}

TEST(StateMachineTest, ReplicaReadRejectsWrites) {
  StateMachine sm;
  std::string out;
  resp::Writer w(&out);
  std::vector<std::string_view> args{"del", "k"};
  StateMachine::ExecResult r = sm.Execute(args, w, 0, ExecMode::kReplicaRead);
  EXPECT_TRUE(r.write);
  EXPECT_EQ(out, "-READONLY You can't write against a read only replica.\r\n");
  EXPECT_TRUE(r.record.commands.empty());
}

TEST(StateMachineTest, ApplyRejectsUnknownCommandAndBadArity) {
  StateMachine sm;
  Record bad;
  bad.commands.push_back({"nosuchcommand", "x"});
  EXPECT_TRUE(sm.Apply(bad).IsCorruption());
  Record arity;
  arity.commands.push_back({"del"});
  EXPECT_TRUE(sm.Apply(arity).IsCorruption());
  Record empty_argv;
  empty_argv.commands.push_back({});
  EXPECT_TRUE(sm.Apply(empty_argv).IsCorruption());
}

TEST(StateMachineTest, ApplyReportsFailingCommandAsCorruption) {
  StateMachine sm;
  Record r;
  r.commands.push_back({"rename", "missing", "other"});  // ERR no such key
  Status st = sm.Apply(r);
  EXPECT_TRUE(st.IsCorruption()) << st.ToString();
}

TEST(StateMachineTest, DigestOfEmptyIsZeros) {
  StateMachine sm;
  EXPECT_EQ(sm.Digest(), std::string(40, '0'));
}

TEST(StateMachineTest, DigestIsOrderIndependentAndSensitive) {
  StateMachine a, b;
  a.keyspace().Set("x", Object::String("1"));
  a.keyspace().Set("y", Object::String("2"));
  b.keyspace().Set("y", Object::String("2"));
  b.keyspace().Set("x", Object::String("1"));
  EXPECT_EQ(a.Digest(), b.Digest());
  EXPECT_NE(a.Digest(), std::string(40, '0'));
  b.keyspace().SetExpire("x", 5000);
  EXPECT_NE(a.Digest(), b.Digest());
  a.keyspace().SetExpire("x", 5000);
  EXPECT_EQ(a.Digest(), b.Digest());
  a.keyspace().Set("x", Object::String("other"), /*keep_ttl=*/true);
  EXPECT_NE(a.Digest(), b.Digest());
}

TEST(StateMachineTest, DigestDistinguishesTypes) {
  StateMachine a, b;
  a.keyspace().Set("k", Object::String(""));
  Object h = Object::NewHash();
  h.hash().Set("f", "v");
  b.keyspace().Set("k", std::move(h));
  EXPECT_NE(a.Digest(), b.Digest());
}

TEST(StateMachineTest, HashDigestIgnoresFieldOrder) {
  StateMachine a, b;
  Object ha = Object::NewHash();
  Object hb = Object::NewHash();
  for (int i = 0; i < 300; ++i) ha.hash().Set("f" + std::to_string(i), std::to_string(i));
  for (int i = 299; i >= 0; --i) hb.hash().Set("f" + std::to_string(i), std::to_string(i));
  a.keyspace().Set("h", std::move(ha));
  b.keyspace().Set("h", std::move(hb));
  EXPECT_EQ(a.Digest(), b.Digest());
}

TEST(StateMachineTest, SnapshotRoundTrip) {
  StateMachine sm;
  for (int i = 0; i < 500; ++i) {
    sm.keyspace().Set("s" + std::to_string(i), Object::String(std::string(i % 70, 'v')));
    if (i % 3 == 0) sm.keyspace().SetExpire("s" + std::to_string(i), 10'000 + i);
  }
  Object h = Object::NewHash();
  for (int i = 0; i < 200; ++i) h.hash().Set("field" + std::to_string(i), std::to_string(i * 7));
  sm.keyspace().Set("hash", std::move(h));
  sm.keyspace().Set(std::string("bin\0key", 7), Object::String(std::string("\0\xff", 2)));

  std::vector<std::string> entries;
  ASSERT_TRUE(sm.WriteSnapshot([&](std::string_view e) {
                  entries.emplace_back(e);
                  return Status::Ok();
                }).ok());
  EXPECT_EQ(entries.size(), sm.keyspace().size());

  StateMachine restored;
  for (const std::string& e : entries) ASSERT_TRUE(restored.LoadSnapshotEntry(e).ok());
  EXPECT_EQ(restored.Digest(), sm.Digest());
  EXPECT_EQ(restored.keyspace().expires_count(), sm.keyspace().expires_count());
  EXPECT_EQ(restored.keyspace().Find("hash")->EncodingName(), "hashtable");
  // Loading the same key twice is corruption.
  EXPECT_TRUE(restored.LoadSnapshotEntry(entries[0]).IsCorruption());
}

TEST(StateMachineTest, SnapshotSinkErrorStopsWriting) {
  StateMachine sm;
  sm.keyspace().Set("a", Object::String("1"));
  sm.keyspace().Set("b", Object::String("2"));
  int calls = 0;
  Status st = sm.WriteSnapshot([&](std::string_view) {
    ++calls;
    return Status::IOError("disk");
  });
  EXPECT_EQ(st.code(), Status::Code::kIOError);
  EXPECT_EQ(calls, 1);
}

TEST(StateMachineTest, SnapshotEntryCorruptionIsDetected) {
  StateMachine sm;
  Object h = Object::NewHash();
  h.hash().Set("f", "v");
  sm.keyspace().Set("h", std::move(h));
  sm.keyspace().Set("s", Object::String("value"));
  std::vector<std::string> entries;
  ASSERT_TRUE(sm.WriteSnapshot([&](std::string_view e) {
                  entries.emplace_back(e);
                  return Status::Ok();
                }).ok());
  for (const std::string& e : entries) {
    // Every strict prefix is rejected, and so is trailing garbage.
    for (size_t len = 0; len < e.size(); ++len) {
      StateMachine fresh;
      EXPECT_FALSE(fresh.LoadSnapshotEntry(e.substr(0, len)).ok()) << len;
    }
    StateMachine fresh;
    EXPECT_FALSE(fresh.LoadSnapshotEntry(e + "x").ok());
  }
  std::string bad_type = entries[0];
  bad_type[1 + 1 + 1] = 9;  // version, key length 1, key byte, then type
  StateMachine fresh;
  EXPECT_TRUE(fresh.LoadSnapshotEntry(bad_type).IsCorruption());
  std::string bad_version = entries[0];
  bad_version[0] = 7;
  EXPECT_TRUE(fresh.LoadSnapshotEntry(bad_version).IsCorruption());
}

TEST(StateMachineTest, ExpireCycleDeletesExpiredAndPropagatesDel) {
  CommandHarness h;
  for (int i = 0; i < 100; ++i) {
    std::string key = "k" + std::to_string(i);
    h.leader().keyspace().Set(key, Object::String("v"));
    h.follower().keyspace().Set(key, Object::String("v"));
    if (i < 60) {
      h.leader().keyspace().SetExpire(key, h.now_ms() + 10);
      h.follower().keyspace().SetExpire(key, h.now_ms() + 10);
    }
  }
  EXPECT_EQ(h.ExpireCycle(), 0u);  // nothing expired yet
  EXPECT_TRUE(h.last_propagated().empty());
  h.AdvanceClock(10);
  size_t deleted = 0;
  for (int round = 0; round < 50 && h.leader().keyspace().expires_count() > 0; ++round) {
    deleted += h.ExpireCycle(1000);
    if (!h.last_propagated().empty()) {
      EXPECT_EQ(h.last_propagated()[0][0], "del");
    }
  }
  EXPECT_EQ(deleted, 60u);
  EXPECT_EQ(h.leader().keyspace().size(), 40u);
  EXPECT_EQ(h.follower().keyspace().size(), 40u);
}

TEST(StateMachineTest, ExpireCycleRespectsBudget) {
  StateMachine sm;
  for (int i = 0; i < 100; ++i) {
    std::string key = "k" + std::to_string(i);
    sm.keyspace().Set(key, Object::String("v"));
    sm.keyspace().SetExpire(key, 5);
  }
  Record r = sm.ExpireCycle(10, 30);
  ASSERT_EQ(r.commands.size(), 1u);
  EXPECT_LE(r.commands[0].size() - 1, 30u);
  EXPECT_GE(r.commands[0].size() - 1, 20u);
  EXPECT_EQ(sm.keyspace().size(), 100 - (r.commands[0].size() - 1));
}

}  // namespace
}  // namespace tandem::kv
