#include "snapshot/snapshot_writer.h"

#include "snapshot/snapshot_store.h"
#include "util/coding.h"

namespace tandem::snapshot {

namespace {
constexpr size_t kFlushBytes = 1 << 20;
// Written data is synced every this many bytes, so the kernel never holds
// the whole snapshot as dirty pages: flushed at once by the final fsync,
// hundreds of MB queue ahead of every other write to the disk and stall
// the WAL's fsyncs (this process's and other nodes' on the same disk).
constexpr uint64_t kSyncEveryBytes = 16 << 20;
}

Result<std::unique_ptr<SnapshotWriter>> SnapshotWriter::Create(Env* env, const std::string& dir,
                                                               const SnapshotMeta& meta) {
  if (meta.metadata.size() > kMaxMetadataSize) {
    return Status::InvalidArgument("snapshot metadata too large");
  }
  TANDEM_RETURN_IF_ERROR(env->CreateDirs(dir));
  std::string name = SnapshotFileName(meta.last_index, meta.last_term);
  auto file =
      env->OpenFile(JoinPath(dir, name + std::string(kWriteTmpSuffix)), OpenMode::kCreateTruncate);
  if (!file.ok()) return file.status();
  std::unique_ptr<SnapshotWriter> writer(
      new SnapshotWriter(env, dir, std::move(name), std::move(*file)));
  EncodeSnapshotHeader(meta, &writer->buf_);
  return writer;
}

SnapshotWriter::~SnapshotWriter() {
  if (!finished_) {
    file_.reset();
    (void)env_->DeleteFile(TmpPath());
  }
}

std::string SnapshotWriter::TmpPath() const {
  return JoinPath(dir_, final_name_ + std::string(kWriteTmpSuffix));
}

Status SnapshotWriter::FlushBuffer() {
  if (buf_.empty()) return Status::Ok();
  TANDEM_RETURN_IF_ERROR(WriteOut(buf_));
  buf_.clear();
  return Status::Ok();
}

Status SnapshotWriter::WriteOut(std::string_view bytes) {
  checksum_.Update(bytes);
  TANDEM_RETURN_IF_ERROR(file_->Append(bytes));
  unsynced_bytes_ += bytes.size();
  if (unsynced_bytes_ >= kSyncEveryBytes) {
    TANDEM_RETURN_IF_ERROR(file_->DataSync());
    unsynced_bytes_ = 0;
  }
  return Status::Ok();
}

Status SnapshotWriter::Add(std::string_view entry) {
  if (entry.size() > kMaxEntrySize) return Status::InvalidArgument("snapshot entry too large");
  AppendSnapshotEntry(entry, &buf_);
  ++entries_;
  if (buf_.size() >= kFlushBytes) return FlushBuffer();
  return Status::Ok();
}

Status SnapshotWriter::AddFramed(std::string_view entries, uint64_t count) {
  TANDEM_RETURN_IF_ERROR(FlushBuffer());
  if (entries.empty()) return Status::Ok();
  TANDEM_RETURN_IF_ERROR(WriteOut(entries));
  entries_ += count;
  return Status::Ok();
}

Result<std::string> SnapshotWriter::Finish(size_t keep) {
  PutFixed32(&buf_, kTrailerMarker);
  PutFixed32(&buf_, 0);
  PutFixed64(&buf_, entries_);
  TANDEM_RETURN_IF_ERROR(FlushBuffer());
  PutFixed64(&buf_, checksum_.Digest());
  TANDEM_RETURN_IF_ERROR(file_->Append(buf_));
  buf_.clear();
  TANDEM_RETURN_IF_ERROR(file_->Sync());
  file_.reset();
  std::string final_path = JoinPath(dir_, final_name_);
  TANDEM_RETURN_IF_ERROR(env_->RenameFile(TmpPath(), final_path));
  finished_ = true;
  TANDEM_RETURN_IF_ERROR(env_->SyncDir(dir_));
  TANDEM_RETURN_IF_ERROR(PruneSnapshots(env_, dir_, keep));
  return final_path;
}

}  // namespace tandem::snapshot
