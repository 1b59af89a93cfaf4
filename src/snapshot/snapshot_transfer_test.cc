#include "snapshot/snapshot_transfer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "snapshot/snapshot_decoder.h"
#include "snapshot/snapshot_reader.h"
#include "snapshot/snapshot_writer.h"
#include "util/testing/temp_dir.h"

namespace tandem::snapshot {
namespace {

class TransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path();
    auto w = SnapshotWriter::Create(&env_, root_ + "/leader", SnapshotMeta{900, 4, 1, "members"});
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 3000; ++i) {
      ASSERT_TRUE((*w)->Add("entry-" + std::to_string(i) + std::string(i % 40, 'z')).ok());
    }
    auto path = (*w)->Finish();
    ASSERT_TRUE(path.ok());
    source_path_ = *path;
    follower_ = root_ + "/follower";
  }

  // Sends chunks from rx->next_offset() until `stop_after` chunks were sent
  // (-1: to the end).
  void Send(SnapshotChunkSource* src, SnapshotReceiver* rx, int stop_after, size_t chunk = 4096) {
    for (int sent = 0; !rx->complete() && sent != stop_after; ++sent) {
      auto c = src->ReadChunk(rx->next_offset(), chunk);
      ASSERT_TRUE(c.ok());
      ASSERT_TRUE(rx->WriteChunk(*c).ok());
    }
  }

  testing::TempDir tmp_{"tandem_xfer_test"};
  std::string root_, source_path_, follower_;
  FaultInjectionEnv env_{Env::Default()};
};

TEST_F(TransferTest, FullTransferInstallsIdenticalFile) {
  auto src = SnapshotChunkSource::Open(&env_, source_path_);
  ASSERT_TRUE(src.ok());
  EXPECT_EQ((*src)->offer().last_index, 900u);
  auto rx = SnapshotReceiver::Open(&env_, follower_, (*src)->offer());
  ASSERT_TRUE(rx.ok());
  EXPECT_EQ((*rx)->next_offset(), 0u);
  Send(src->get(), rx->get(), -1, 1000);
  auto info = (*rx)->Finish();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->meta.metadata, "members");
  std::string a, b;
  ASSERT_TRUE(env_.ReadFileToString(source_path_, &a).ok());
  ASSERT_TRUE(env_.ReadFileToString(info->path, &b).ok());
  EXPECT_EQ(a, b);
  EXPECT_FALSE(env_.FileExists(info->path + ".recv"));
}

TEST_F(TransferTest, ReceiverStartsWritebackOfWholePagesAsItGoes) {
  // ~20 MiB, sent in chunks that end off page boundaries.
  auto w = SnapshotWriter::Create(&env_, root_ + "/big", SnapshotMeta{901, 4, 1, ""});
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 20 * 1024; ++i) {
    ASSERT_TRUE((*w)->Add(std::to_string(i) + std::string(1020, 'v')).ok());
  }
  auto path = (*w)->Finish();
  ASSERT_TRUE(path.ok());
  auto src = SnapshotChunkSource::Open(&env_, *path);
  ASSERT_TRUE(src.ok());
  uint64_t total = (*src)->offer().total_size;
  auto rx = SnapshotReceiver::Open(&env_, follower_, (*src)->offer());
  ASSERT_TRUE(rx.ok());
  Send(src->get(), rx->get(), -1, 65000);

  // Contiguous from 0, each at least kWritebackBytes less a page, ending on
  // a page boundary at or before what had arrived; the last one within a
  // step (plus a chunk and a page) of the end.
  uint64_t expect_offset = 0;
  int calls = 0;
  for (const auto& call : env_.writeback_calls()) {
    if (call.path.find("/follower/") == std::string::npos) continue;
    ++calls;
    EXPECT_EQ(call.offset, expect_offset);
    EXPECT_GE(call.length + 4096, SnapshotReceiver::kWritebackBytes);
    EXPECT_EQ((call.offset + call.length) % 4096, 0u);
    expect_offset = call.offset + call.length;
  }
  EXPECT_EQ(calls, static_cast<int>(total / SnapshotReceiver::kWritebackBytes));
  EXPECT_LE(expect_offset, total);
  EXPECT_GT(expect_offset + SnapshotReceiver::kWritebackBytes + 65000 + 4096, total);

  auto info = (*rx)->Finish();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  std::string a, b;
  ASSERT_TRUE(env_.ReadFileToString(*path, &a).ok());
  ASSERT_TRUE(env_.ReadFileToString(info->path, &b).ok());
  EXPECT_EQ(a, b);
}

TEST_F(TransferTest, BrokenConnectionResumesFromLastGoodOffset) {
  auto src = SnapshotChunkSource::Open(&env_, source_path_);
  SnapshotOffer offer = (*src)->offer();
  uint64_t broke_at = 0;
  {
    auto rx = SnapshotReceiver::Open(&env_, follower_, offer);
    Send(src->get(), rx->get(), 5, 3000);
    broke_at = (*rx)->next_offset();
    // The connection dies mid-chunk: half a chunk reaches the file.
    auto c = (*src)->ReadChunk(broke_at, 3000);
    c->data.resize(1500);
    c->checksum = ChunkChecksum(c->offset, c->data);
    ASSERT_TRUE((*rx)->WriteChunk(*c).ok());
  }  // receiver (process) goes away
  auto rx = SnapshotReceiver::Open(&env_, follower_, offer);
  ASSERT_TRUE(rx.ok());
  uint64_t resume = (*rx)->next_offset();
  EXPECT_GT(resume, 0u);               // did not restart from scratch
  EXPECT_LE(resume, broke_at + 1500);  // never past what was written
  EXPECT_GT(resume, broke_at - 3000);  // at most one chunk lost plus a partial entry
  Send(src->get(), rx->get(), -1, 3000);
  auto info = (*rx)->Finish();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_TRUE(VerifySnapshotFile(&env_, info->path).ok());
}

TEST_F(TransferTest, DiscardedReceiveStartsOverAtZero) {
  auto src = SnapshotChunkSource::Open(&env_, source_path_);
  SnapshotOffer offer = (*src)->offer();
  {
    auto rx = SnapshotReceiver::Open(&env_, follower_, offer);
    Send(src->get(), rx->get(), 5, 3000);
    ASSERT_GT((*rx)->next_offset(), 0u);
    ASSERT_TRUE((*rx)->Discard().ok());
    EXPECT_EQ((*rx)->next_offset(), 0u);
  }
  auto rx = SnapshotReceiver::Open(&env_, follower_, offer);
  ASSERT_TRUE(rx.ok());
  EXPECT_EQ((*rx)->next_offset(), 0u);  // nothing of the discarded bytes resumed
  Send(src->get(), rx->get(), -1, 3000);
  auto info = (*rx)->Finish();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
}

TEST_F(TransferTest, FinishTakesTheHeaderOfBytesVerifiedAsTheyCame) {
  auto src = SnapshotChunkSource::Open(&env_, source_path_);
  auto rx = SnapshotReceiver::Open(&env_, follower_, (*src)->offer());
  SnapshotDecoder decoder("stream");
  while (!(*rx)->complete()) {
    auto c = (*src)->ReadChunk((*rx)->next_offset(), 5000);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*rx)->WriteChunk(*c).ok());
    decoder.Append(c->data);
    std::string_view entry;
    SnapshotDecoder::Step step = SnapshotDecoder::Step::kHeader;
    while (step == SnapshotDecoder::Step::kHeader || step == SnapshotDecoder::Step::kEntry) {
      ASSERT_TRUE(decoder.Next(&entry, &step).ok());
    }
  }
  ASSERT_TRUE(decoder.done());
  auto info = (*rx)->Finish(2, &decoder.meta());
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->meta.last_index, 900u);
  EXPECT_EQ(info->meta.metadata, "members");
  EXPECT_TRUE(VerifySnapshotFile(&env_, info->path).ok());

  // A header that does not match the offer is refused like a bad file.
  auto rx2 = SnapshotReceiver::Open(&env_, follower_ + "2", (*src)->offer());
  Send(src->get(), rx2->get(), -1, 5000);
  SnapshotMeta wrong = decoder.meta();
  wrong.last_index = 901;
  auto refused = (*rx2)->Finish(2, &wrong);
  EXPECT_TRUE(refused.status().IsCorruption()) << refused.status().ToString();
  EXPECT_EQ((*rx2)->next_offset(), 0u);  // starts over
}

TEST_F(TransferTest, BadChunksAreRejected) {
  auto src = SnapshotChunkSource::Open(&env_, source_path_);
  auto rx = SnapshotReceiver::Open(&env_, follower_, (*src)->offer());
  auto c = (*src)->ReadChunk(0, 100);
  SnapshotChunk bad = *c;
  bad.data[3] ^= 1;
  EXPECT_TRUE((*rx)->WriteChunk(bad).IsCorruption());
  EXPECT_EQ((*rx)->next_offset(), 0u);
  auto ahead = (*src)->ReadChunk(200, 100);
  EXPECT_EQ((*rx)->WriteChunk(*ahead).code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE((*rx)->WriteChunk(*c).ok());
  ASSERT_TRUE((*rx)->WriteChunk(*c).ok());  // duplicate: ignored
  EXPECT_EQ((*rx)->next_offset(), 100u);
  auto overlap = (*src)->ReadChunk(50, 100);  // half old, half new
  ASSERT_TRUE((*rx)->WriteChunk(*overlap).ok());
  EXPECT_EQ((*rx)->next_offset(), 150u);
  EXPECT_EQ((*rx)->Finish().status().code(), Status::Code::kInvalidArgument);  // incomplete
}

TEST_F(TransferTest, CorruptAssembledFileRestartsTransfer) {
  auto src = SnapshotChunkSource::Open(&env_, source_path_);
  SnapshotOffer offer = (*src)->offer();
  auto rx = SnapshotReceiver::Open(&env_, follower_, offer);
  // A sender whose file is damaged: chunks checksum fine but content is bad.
  for (uint64_t off = 0; off < offer.total_size;) {
    auto c = (*src)->ReadChunk(off, 4096);
    if (off == 4096) c->data[10] ^= 1;
    c->checksum = ChunkChecksum(c->offset, c->data);
    ASSERT_TRUE((*rx)->WriteChunk(*c).ok());
    off += c->data.size();
  }
  auto info = (*rx)->Finish();
  EXPECT_TRUE(info.status().IsCorruption()) << info.status().ToString();
  EXPECT_EQ((*rx)->next_offset(), 0u);
  auto again = SnapshotReceiver::Open(&env_, follower_, offer);
  EXPECT_EQ((*again)->next_offset(), 0u);
  Send(src->get(), again->get(), -1);
  EXPECT_TRUE((*again)->Finish().ok());
}

TEST_F(TransferTest, StaleReceiveFileOfOtherOfferIsDeleted) {
  auto src = SnapshotChunkSource::Open(&env_, source_path_);
  SnapshotOffer offer = (*src)->offer();
  {
    auto rx = SnapshotReceiver::Open(&env_, follower_, offer);
    Send(src->get(), rx->get(), 2);
  }
  SnapshotOffer other{1200, 5, 1000};
  auto rx = SnapshotReceiver::Open(&env_, follower_, other);
  ASSERT_TRUE(rx.ok());
  EXPECT_EQ((*rx)->next_offset(), 0u);
  auto names = env_.ListDir(follower_);
  EXPECT_EQ(names->size(), 1u);
}

}  // namespace
}  // namespace tandem::snapshot
