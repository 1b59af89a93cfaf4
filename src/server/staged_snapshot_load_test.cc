#include "server/staged_snapshot_load.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "resp/writer.h"
#include "snapshot/snapshot_writer.h"
#include "util/testing/temp_dir.h"

namespace tandem::server {
namespace {

void Exec(kv::StateMachine& sm, std::vector<std::string_view> args) {
  std::string out;
  resp::Writer w(&out);
  sm.Execute(args, w, /*now_ms=*/1000, kv::ExecMode::kLeader);
}

class StagedSnapshotLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 20000; ++i) {
      std::string key = "key:" + std::to_string(i);
      std::string value(i % 700, static_cast<char>('a' + i % 26));
      Exec(source_, {"SET", key, value});
      if (i % 10 == 0) Exec(source_, {"PEXPIRE", key, "5000000"});
      if (i % 100 == 0) Exec(source_, {"HSET", "hash:" + std::to_string(i), "f", value});
    }
    auto w = snapshot::SnapshotWriter::Create(env_, tmp_.path() + "/snap",
                                              snapshot::SnapshotMeta{42, 3, 7, "members"});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(source_.WriteSnapshot([&](std::string_view e) { return (*w)->Add(e); }).ok());
    auto path = (*w)->Finish();
    ASSERT_TRUE(path.ok());
    ASSERT_TRUE(env_->ReadFileToString(*path, &bytes_).ok());
    recv_path_ = tmp_.path() + "/incoming.recv";
  }

  snapshot::SnapshotOffer Offer() const { return {42, 3, bytes_.size()}; }

  // Writes `bytes` into the receive file in pieces of `piece` bytes,
  // telling the load after each, as the receiver does.
  void Receive(StagedSnapshotLoad* load, const std::string& bytes, size_t piece,
               size_t stop_at = std::string::npos) {
    auto file = env_->OpenFile(recv_path_, OpenMode::kReadWrite);
    ASSERT_TRUE(file.ok());
    for (size_t at = 0; at < std::min(bytes.size(), stop_at); at += piece) {
      std::string_view part = std::string_view(bytes).substr(at, piece);
      ASSERT_TRUE((*file)->WriteAt(at, part).ok());
      load->Advance(at + part.size());
    }
  }

  std::unique_ptr<StagedSnapshotLoad> Start(const snapshot::SnapshotOffer& offer) {
    auto created = env_->OpenFile(recv_path_, OpenMode::kCreate);  // the receiver creates it
    EXPECT_TRUE(created.ok());
    auto load = StagedSnapshotLoad::Start(env_, offer, recv_path_);
    EXPECT_TRUE(load.ok()) << load.status().ToString();
    return load.ok() ? std::move(load).value() : nullptr;
  }

  testing::TempDir tmp_{"tandem_staged_load_test"};
  Env* env_ = Env::Default();
  kv::StateMachine source_;
  std::string bytes_;
  std::string recv_path_;
};

TEST_F(StagedSnapshotLoadTest, LoadsTheSameStateAsTheBytesArrive) {
  for (size_t piece : {size_t{65000}, size_t{1} << 20, size_t{4093}}) {
    auto load = Start(Offer());
    ASSERT_NE(load, nullptr);
    Receive(load.get(), bytes_, piece);
    ASSERT_TRUE(load->WaitComplete()) << piece << ": " << load->error().ToString();
    EXPECT_FALSE(load->failed());
    EXPECT_EQ(load->meta().last_index, 42u);
    EXPECT_EQ(load->meta().created_unix_ms, 7);
    EXPECT_EQ(load->meta().metadata, "members");
    EXPECT_EQ(load->state().keyspace().size(), source_.keyspace().size());
    EXPECT_EQ(load->state().keyspace().expires_count(), source_.keyspace().expires_count());
    EXPECT_EQ(load->state().Digest(), source_.Digest()) << piece;
  }
}

TEST_F(StagedSnapshotLoadTest, TellsWhenItHasCaughtUp) {
  std::atomic<int> calls{0};
  auto created = env_->OpenFile(recv_path_, OpenMode::kCreate);
  ASSERT_TRUE(created.ok());
  auto load = StagedSnapshotLoad::Start(env_, Offer(), recv_path_, [&] { ++calls; });
  ASSERT_TRUE(load.ok());
  EXPECT_TRUE((*load)->idle());  // nothing advanced yet
  Receive(load->get(), bytes_, 65000);
  ASSERT_TRUE((*load)->WaitComplete());
  EXPECT_TRUE((*load)->idle());
  load->reset();  // joined: every call it made is counted
  EXPECT_GE(calls.load(), 1);
}

TEST_F(StagedSnapshotLoadTest, NotCompleteUntilEveryByteArrived) {
  auto load = Start(Offer());
  Receive(load.get(), bytes_, 65000, bytes_.size() / 2);
  EXPECT_FALSE(load->WaitComplete());
  EXPECT_FALSE(load->failed());
  Receive(load.get(), bytes_, 65000);
  EXPECT_TRUE(load->WaitComplete()) << load->error().ToString();
}

TEST_F(StagedSnapshotLoadTest, AFlippedByteFailsTheLoad) {
  std::string bad = bytes_;
  bad[bad.size() / 2] ^= 0x10;
  auto load = Start(Offer());
  Receive(load.get(), bad, 65000);
  EXPECT_FALSE(load->WaitComplete());
  EXPECT_TRUE(load->failed());
  EXPECT_TRUE(load->error().IsCorruption()) << load->error().ToString();
}

TEST_F(StagedSnapshotLoadTest, AHeaderOfAnotherSnapshotFailsTheLoad) {
  snapshot::SnapshotOffer other = Offer();
  other.last_index = 43;
  auto load = Start(other);
  Receive(load.get(), bytes_, 65000);
  EXPECT_FALSE(load->WaitComplete());
  EXPECT_NE(load->error().message().find("does not match the offer"), std::string::npos)
      << load->error().ToString();
}

TEST_F(StagedSnapshotLoadTest, StopsPartWayWhenDropped) {
  auto load = Start(Offer());
  Receive(load.get(), bytes_, 65000, bytes_.size() / 3);
  EXPECT_FALSE(load->WaitComplete());
  EXPECT_FALSE(load->failed());  // a prefix is no error
  Receive(load.get(), bytes_, 65000, bytes_.size() / 2);
  load.reset();  // stops its thread mid-way and frees what it loaded (ASan watches)
}

}  // namespace
}  // namespace tandem::server
