// Log::Read from disk: the read cursor that lets sequential reads go on where
// the previous one stopped, and the operations that must drop it.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "util/testing/temp_dir.h"
#include "wal/log.h"

namespace tandem::wal {
namespace {

std::string PayloadFor(uint64_t index, char tag = 'x') {
  return "value-" + std::to_string(index) + std::string(index % 13 + 20, tag);
}

// Counts the files opened for reading (each cursor miss opens the segment);
// everything else goes to the wrapped env.
class CountingEnv : public Env {
 public:
  explicit CountingEnv(Env* base) : base_(base) {}
  Result<std::unique_ptr<File>> OpenFile(const std::string& path, OpenMode mode) override {
    if (mode == OpenMode::kReadOnly) ++read_opens;
    return base_->OpenFile(path, mode);
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    return base_->RenameFile(from, to);
  }
  Status DeleteFile(const std::string& path) override { return base_->DeleteFile(path); }
  Status CreateDirs(const std::string& dir) override { return base_->CreateDirs(dir); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_->ListDir(dir);
  }
  Result<uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  Status TruncateFile(const std::string& path, uint64_t size) override {
    return base_->TruncateFile(path, size);
  }
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }
  Result<uint64_t> FreeBytes(const std::string& dir) override { return base_->FreeBytes(dir); }

  int read_opens = 0;

 private:
  Env* base_;
};

class LogReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path();
    dir_ = root_ + "/wal";
  }
  void TearDown() override { log_.reset(); }

  // Small segments and no cache: every durable entry is read from disk.
  void Open(uint64_t segment_bytes = 4096) {
    log_.reset();
    LogOptions o;
    o.segment_bytes = segment_bytes;
    o.cache_bytes = 0;
    auto log = Log::Open(&env_, dir_, o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(*log);
  }

  void Append(uint64_t from, uint64_t to, uint64_t term = 1, char tag = 'x') {
    for (uint64_t i = from; i <= to; ++i) {
      std::string payload = PayloadFor(i, tag);
      ASSERT_TRUE(log_->Append(EntryView{term, i, 1, payload}).ok()) << i;
    }
    ASSERT_TRUE(log_->Sync().ok());
  }

  // Reads [from, last] in batches of about max_bytes, each starting where
  // the previous one ended minus `keep_back` entries (a caller that keeps
  // only a prefix), and checks every entry against its payload.
  void ReadAll(uint64_t from, size_t max_bytes, uint64_t keep_back = 0, char tag = 'x') {
    uint64_t next = from;
    while (next <= log_->last_index()) {
      std::vector<LogEntry> out;
      Status st = log_->Read(next, max_bytes, &out);
      ASSERT_TRUE(st.ok()) << st.ToString();
      ASSERT_FALSE(out.empty());
      for (size_t i = 0; i < out.size(); ++i) {
        ASSERT_EQ(out[i].index, next + i);
        ASSERT_EQ(out[i].payload, PayloadFor(out[i].index, tag)) << out[i].index;
      }
      uint64_t got = out.size();
      next += got > keep_back ? got - keep_back : 1;
    }
  }

  testing::TempDir tmp_{"tandem_wal_read_test"};
  std::string root_, dir_;
  FaultInjectionEnv faults_{Env::Default()};
  CountingEnv env_{&faults_};
  std::unique_ptr<Log> log_;
};

TEST_F(LogReadTest, SequentialReadsAcrossSegmentsOpenEachSegmentOnce) {
  Open();
  Append(1, 2000);
  size_t segments = 0;
  auto names = env_.ListDir(dir_);
  ASSERT_TRUE(names.ok());
  for (const auto& name : *names) {
    uint64_t first;
    segments += ParseSegmentFileName(name, &first) ? 1 : 0;
  }
  ASSERT_GT(segments, 10u);
  int opens = env_.read_opens;
  ReadAll(1, 500);
  EXPECT_EQ(env_.read_opens - opens, static_cast<int>(segments));
}

TEST_F(LogReadTest, ReadsThatStartInsideThePreviousBatchReuseTheCursor) {
  Open(1 << 20);  // one segment
  Append(1, 3000);
  int opens = env_.read_opens;
  ReadAll(1, 2000, /*keep_back=*/3);
  EXPECT_EQ(env_.read_opens - opens, 1);
  // A jump backwards past the last batch starts a new cursor, correctly.
  std::vector<LogEntry> out;
  ASSERT_TRUE(log_->Read(10, 100, &out).ok());
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.front().index, 10u);
  EXPECT_EQ(out.front().payload, PayloadFor(10));
  EXPECT_EQ(env_.read_opens - opens, 3);  // a checkpoint scan and the cursor
}

TEST_F(LogReadTest, RandomStartsMatchTheLog) {
  Open();
  Append(1, 1500);
  uint64_t starts[] = {1, 700, 701, 64, 65, 1500, 3, 1499, 1000, 128, 129};
  for (uint64_t from : starts) {
    std::vector<LogEntry> out;
    ASSERT_TRUE(log_->Read(from, 300, &out).ok()) << from;
    ASSERT_FALSE(out.empty());
    for (size_t i = 0; i < out.size(); ++i) {
      ASSERT_EQ(out[i].index, from + i);
      ASSERT_EQ(out[i].payload, PayloadFor(from + i));
    }
  }
}

TEST_F(LogReadTest, ReadsOfAGrowingTailSegmentSeeNewData) {
  Open(1 << 20);
  Append(1, 100);
  std::vector<LogEntry> out;
  ASSERT_TRUE(log_->Read(1, 1 << 20, &out).ok());
  ASSERT_EQ(out.size(), 100u);
  Append(101, 300);
  out.clear();
  ASSERT_TRUE(log_->Read(101, 1 << 20, &out).ok());
  ASSERT_EQ(out.size(), 200u);
  EXPECT_EQ(out.back().payload, PayloadFor(300));
}

TEST_F(LogReadTest, TruncateSuffixDropsTheCursor) {
  Open(1 << 20);
  Append(1, 400);
  std::vector<LogEntry> out;
  ASSERT_TRUE(log_->Read(1, 5000, &out).ok());  // read ahead well past 200
  ASSERT_LT(out.back().index, 200u);
  uint64_t next = out.back().index + 1;
  ASSERT_TRUE(log_->TruncateSuffix(next + 5).ok());
  Append(next + 6, 400, /*term=*/2, /*tag=*/'y');
  out.clear();
  ASSERT_TRUE(log_->Read(next, 1 << 20, &out).ok());
  ASSERT_EQ(out.back().index, 400u);
  for (const LogEntry& e : out) {
    ASSERT_EQ(e.payload, PayloadFor(e.index, e.index <= next + 5 ? 'x' : 'y')) << e.index;
    ASSERT_EQ(e.term, e.index <= next + 5 ? 1u : 2u);
  }
}

TEST_F(LogReadTest, TruncateAcrossSegmentsThenRewriteReadsNewEntries) {
  Open();
  Append(1, 600);
  std::vector<LogEntry> out;
  ASSERT_TRUE(log_->Read(200, 2000, &out).ok());
  ASSERT_TRUE(log_->TruncateSuffix(150).ok());
  Append(151, 600, /*term=*/3, /*tag=*/'z');
  out.clear();
  uint64_t next = 140;
  while (next <= 600) {
    out.clear();
    ASSERT_TRUE(log_->Read(next, 1000, &out).ok());
    for (const LogEntry& e : out) {
      ASSERT_EQ(e.payload, PayloadFor(e.index, e.index <= 150 ? 'x' : 'z')) << e.index;
    }
    next = out.back().index + 1;
  }
}

TEST_F(LogReadTest, CompactionThenReadsGoOn) {
  Open();
  Append(1, 1000);
  std::vector<LogEntry> out;
  ASSERT_TRUE(log_->Read(1, 1000, &out).ok());
  ASSERT_TRUE(log_->CompactPrefix(500).ok());
  ASSERT_GT(log_->first_index(), 1u);
  out.clear();
  EXPECT_TRUE(log_->Read(1, 1000, &out).IsNotFound());
  ReadAll(log_->first_index(), 700);
}

TEST_F(LogReadTest, ResetThenReuseOfTheSameIndexesReadsNewEntries) {
  Open(1 << 20);
  Append(1, 300);
  std::vector<LogEntry> out;
  ASSERT_TRUE(log_->Read(1, 2000, &out).ok());
  uint64_t next = out.back().index + 1;
  // A snapshot install at index 0 would not be a reset; restart at 1 with a
  // new term and different payloads at the same file offsets.
  ASSERT_TRUE(log_->Reset(1, 0).ok());
  Append(1, 300, /*term=*/5, /*tag=*/'r');
  out.clear();
  ASSERT_TRUE(log_->Read(next, 1 << 20, &out).ok());
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.front().index, next);
  for (const LogEntry& e : out) ASSERT_EQ(e.payload, PayloadFor(e.index, 'r')) << e.index;
  ReadAll(1, 900, 0, 'r');
}

TEST_F(LogReadTest, FailedFsyncThenReadsStillMatch) {
  Open(1 << 20);
  Append(1, 200);
  std::vector<LogEntry> out;
  ASSERT_TRUE(log_->Read(1, 1000, &out).ok());
  uint64_t next = out.back().index + 1;
  faults_.FailSyncs(EIO, 0, /*drop_unsynced=*/true);
  for (uint64_t i = 201; i <= 260; ++i) {
    std::string payload = PayloadFor(i);
    ASSERT_TRUE(log_->Append(EntryView{1, i, 1, payload}).ok());
  }
  EXPECT_FALSE(log_->Sync().ok());
  faults_.ClearFaults();
  ASSERT_TRUE(log_->Sync().ok());
  ReadAll(next, 1000, 1);
  ReadAll(1, 1 << 20);
}

}  // namespace
}  // namespace tandem::wal
