#include "snapshot/snapshot_transfer.h"

#include <algorithm>

#include "snapshot/snapshot_reader.h"
#include "util/checksum.h"

namespace tandem::snapshot {

uint32_t ChunkChecksum(uint64_t offset, std::string_view data) {
  return Checksum32(data, /*seed=*/offset);
}

Result<std::unique_ptr<SnapshotChunkSource>> SnapshotChunkSource::Open(Env* env,
                                                                       const std::string& path) {
  auto reader = SnapshotReader::Open(env, path);
  if (!reader.ok()) return reader.status();
  auto file = env->OpenFile(path, OpenMode::kReadOnly);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  SnapshotOffer offer{(*reader)->meta().last_index, (*reader)->meta().last_term, *size};
  return std::unique_ptr<SnapshotChunkSource>(new SnapshotChunkSource(std::move(*file), offer));
}

Result<SnapshotChunk> SnapshotChunkSource::ReadChunk(uint64_t offset, size_t max_bytes) {
  SnapshotChunk chunk;
  chunk.offset = offset;
  if (offset < offer_.total_size) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(max_bytes, offer_.total_size - offset));
    chunk.data.resize(n);
    auto got = file_->ReadAt(offset, n, chunk.data.data());
    if (!got.ok()) return got.status();
    if (*got != n) return Status::Corruption("snapshot " + file_->path() + " shrank");
  }
  chunk.checksum = ChunkChecksum(offset, chunk.data);
  return chunk;
}

std::string SnapshotReceiver::RecvPath() const {
  return JoinPath(
      dir_, SnapshotFileName(offer_.last_index, offer_.last_term) + std::string(kReceiveTmpSuffix));
}

Result<std::unique_ptr<SnapshotReceiver>> SnapshotReceiver::Open(Env* env, const std::string& dir,
                                                                 const SnapshotOffer& offer) {
  TANDEM_RETURN_IF_ERROR(env->CreateDirs(dir));
  std::unique_ptr<SnapshotReceiver> rx(new SnapshotReceiver(env, dir, offer));
  std::string mine = rx->RecvPath();
  auto names = env->ListDir(dir);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    std::string path = JoinPath(dir, name);
    if (path != mine && name.size() > kReceiveTmpSuffix.size() &&
        name.substr(name.size() - kReceiveTmpSuffix.size()) == kReceiveTmpSuffix) {
      TANDEM_RETURN_IF_ERROR(env->DeleteFile(path));
    }
  }
  // Resume point: the end of the last entry that verifies (or the whole file
  // if it is complete and valid). Anything after it is cut off.
  uint64_t keep = 0;
  if (env->FileExists(mine)) {
    auto size = env->FileSize(mine);
    if (!size.ok()) return size.status();
    auto reader = SnapshotReader::Open(env, mine);
    if (reader.ok() && (*reader)->meta().last_index == offer.last_index &&
        (*reader)->meta().last_term == offer.last_term && *size <= offer.total_size) {
      keep = (*reader)->offset();
      for (;;) {
        std::string_view entry;
        bool done = false;
        if (!(*reader)->Next(&entry, &done).ok()) break;
        keep = (*reader)->offset();
        if (done) break;
      }
    }
  }
  auto file = env->OpenFile(mine, OpenMode::kCreate);
  if (!file.ok()) return file.status();
  rx->file_ = std::move(*file);
  TANDEM_RETURN_IF_ERROR(rx->file_->Truncate(keep));
  rx->next_offset_ = keep;
  rx->writeback_from_ = keep;
  return rx;
}

Status SnapshotReceiver::WriteChunk(const SnapshotChunk& chunk) {
  if (!file_) return Status::InvalidArgument("snapshot receive discarded or finished");
  if (ChunkChecksum(chunk.offset, chunk.data) != chunk.checksum) {
    return Status::Corruption("snapshot chunk at offset " + std::to_string(chunk.offset) +
                              " failed its checksum");
  }
  uint64_t end = chunk.offset + chunk.data.size();
  if (end > offer_.total_size) {
    return Status::InvalidArgument("snapshot chunk runs past the announced size");
  }
  if (chunk.offset > next_offset_) {
    return Status::InvalidArgument("snapshot chunk at offset " + std::to_string(chunk.offset) +
                                   ", expected " + std::to_string(next_offset_));
  }
  if (end <= next_offset_) return Status::Ok();  // duplicate
  std::string_view fresh = std::string_view(chunk.data).substr(next_offset_ - chunk.offset);
  TANDEM_RETURN_IF_ERROR(file_->WriteAt(next_offset_, fresh));
  next_offset_ = end;
  if (next_offset_ - writeback_from_ >= kWritebackBytes) {
    // Not the last, partly filled page: the next chunk writes it again.
    constexpr uint64_t kPageBytes = 4096;
    uint64_t to = next_offset_ / kPageBytes * kPageBytes;
    file_->StartWriteback(writeback_from_, to - writeback_from_);
    writeback_from_ = to;
  }
  return Status::Ok();
}

Status SnapshotReceiver::Discard() {
  file_.reset();
  next_offset_ = 0;
  writeback_from_ = 0;
  return env_->DeleteFile(RecvPath());
}

Result<SnapshotInfo> SnapshotReceiver::Finish(size_t keep, const SnapshotMeta* verified) {
  if (!complete()) {
    return Status::InvalidArgument("snapshot transfer incomplete: " + std::to_string(next_offset_) +
                                   " of " + std::to_string(offer_.total_size) + " bytes");
  }
  if (!file_) return Status::InvalidArgument("snapshot receive discarded or finished");
  TANDEM_RETURN_IF_ERROR(file_->Sync());
  file_.reset();
  SnapshotInfo info;
  Status st;
  if (verified != nullptr) {
    info.meta = *verified;
  } else {
    st = VerifySnapshotFile(env_, RecvPath(), &info.meta);
  }
  if (st.ok() &&
      (info.meta.last_index != offer_.last_index || info.meta.last_term != offer_.last_term)) {
    st = Status::Corruption("received snapshot does not match its offer");
  }
  if (!st.ok()) {
    if (st.IsCorruption()) (void)env_->DeleteFile(RecvPath());
    next_offset_ = 0;
    writeback_from_ = 0;
    return st;
  }
  info.path = JoinPath(dir_, SnapshotFileName(offer_.last_index, offer_.last_term));
  TANDEM_RETURN_IF_ERROR(env_->RenameFile(RecvPath(), info.path));
  TANDEM_RETURN_IF_ERROR(env_->SyncDir(dir_));
  TANDEM_RETURN_IF_ERROR(PruneSnapshots(env_, dir_, keep));
  return info;
}

}  // namespace tandem::snapshot
