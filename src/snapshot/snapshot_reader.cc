#include "snapshot/snapshot_reader.h"

#include <algorithm>

namespace tandem::snapshot {

namespace {
constexpr size_t kReadChunk = 1 << 20;
}

Result<std::unique_ptr<SnapshotReader>> SnapshotReader::Open(Env* env, const std::string& path) {
  auto file = env->OpenFile(path, OpenMode::kReadOnly);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  std::unique_ptr<SnapshotReader> reader(new SnapshotReader(std::move(*file), *size));
  std::string_view unused;
  SnapshotDecoder::Step step;  // the decoder's first step is the header
  TANDEM_RETURN_IF_ERROR(reader->Step(&unused, &step));
  return reader;
}

Status SnapshotReader::Step(std::string_view* entry, SnapshotDecoder::Step* step) {
  for (;;) {
    TANDEM_RETURN_IF_ERROR(decoder_.Next(entry, step));
    if (*step != SnapshotDecoder::Step::kNeedMore) return Status::Ok();
    if (file_pos_ >= size_) return decoder_.Error("unexpected end of file");
    size_t want = static_cast<size_t>(
        std::min<uint64_t>(std::max(kReadChunk, decoder_.need()), size_ - file_pos_));
    auto got = decoder_.AppendFromFile(*file_, file_pos_, want);
    if (!got.ok()) return got.status();
    if (*got == 0) return decoder_.Error("unexpected end of file");
    file_pos_ += *got;
  }
}

Status SnapshotReader::Next(std::string_view* entry, bool* done) {
  SnapshotDecoder::Step step;
  TANDEM_RETURN_IF_ERROR(Step(entry, &step));
  *done = step == SnapshotDecoder::Step::kDone;
  if (*done && decoder_.offset() != size_) return decoder_.Error("bytes after the trailer");
  return Status::Ok();
}

Status VerifySnapshotFile(Env* env, const std::string& path, SnapshotMeta* meta) {
  auto reader = SnapshotReader::Open(env, path);
  if (!reader.ok()) return reader.status();
  for (;;) {
    std::string_view entry;
    bool done = false;
    TANDEM_RETURN_IF_ERROR((*reader)->Next(&entry, &done));
    if (done) break;
  }
  if (meta != nullptr) *meta = (*reader)->meta();
  return Status::Ok();
}

}  // namespace tandem::snapshot
