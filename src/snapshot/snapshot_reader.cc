#include "snapshot/snapshot_reader.h"

#include <algorithm>

#include "util/coding.h"

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
  size_t need = kFixedHeaderSize;
  for (;;) {
    Status fill = reader->Fill(need);
    if (!fill.ok() && !fill.IsCorruption()) return fill;  // I/O error
    size_t header_size = 0;
    size_t more = 0;
    Status st =
        DecodeSnapshotHeader(std::string_view(reader->buf_), &reader->meta_, &header_size, &more);
    if (st.ok()) {
      reader->Consume(header_size);
      return reader;
    }
    if (fill.ok() && more > need) {
      need = more;  // the metadata is longer than what was read: read more
      continue;
    }
    return reader->Error(st.message());
  }
}

Status SnapshotReader::Error(const std::string& what) const {
  return Status::Corruption("snapshot " + file_->path() + " offset " + std::to_string(offset_) +
                            ": " + what);
}

Status SnapshotReader::Fill(size_t n) {
  if (buf_.size() - pos_ >= n) return Status::Ok();
  buf_.erase(0, pos_);
  pos_ = 0;
  while (buf_.size() < n) {
    if (file_pos_ >= size_) return Error("unexpected end of file");
    size_t want = static_cast<size_t>(
        std::min<uint64_t>(std::max(kReadChunk, n - buf_.size()), size_ - file_pos_));
    size_t old = buf_.size();
    buf_.resize(old + want);
    auto got = file_->ReadAt(file_pos_, want, buf_.data() + old);
    if (!got.ok()) return got.status();
    buf_.resize(old + *got);
    if (*got == 0) return Error("unexpected end of file");
    file_pos_ += *got;
  }
  return Status::Ok();
}

std::string_view SnapshotReader::Consume(size_t n) {
  std::string_view out = std::string_view(buf_).substr(pos_, n);
  checksum_.Update(out);
  pos_ += n;
  offset_ += n;
  return out;
}

Status SnapshotReader::Next(std::string_view* entry, bool* done) {
  *done = false;
  TANDEM_RETURN_IF_ERROR(Fill(kEntryHeaderSize));
  const char* p = buf_.data() + pos_;
  uint32_t length = DecodeFixed32(p);
  if (length == kTrailerMarker) {
    TANDEM_RETURN_IF_ERROR(Fill(kTrailerSize));
    p = buf_.data() + pos_;
    uint64_t count = DecodeFixed64(p + 8);
    uint64_t stored = DecodeFixed64(p + 16);
    if (DecodeFixed32(p + 4) != 0) return Error("bad trailer");
    Consume(16);
    if (stored != checksum_.Digest()) return Error("whole-file checksum mismatch");
    if (count != entries_read_) {
      return Error("trailer says " + std::to_string(count) + " entries, read " +
                   std::to_string(entries_read_));
    }
    pos_ += 8;
    offset_ += 8;
    if (offset_ != size_) return Error("bytes after the trailer");
    *done = true;
    return Status::Ok();
  }
  if (length > kMaxEntrySize) return Error("bad entry length " + std::to_string(length));
  uint32_t expected = DecodeFixed32(p + 4);
  TANDEM_RETURN_IF_ERROR(Fill(kEntryHeaderSize + length));
  std::string_view bytes = std::string_view(buf_).substr(pos_ + kEntryHeaderSize, length);
  if (SnapshotEntryChecksum(bytes) != expected) return Error("entry checksum mismatch");
  *entry = Consume(kEntryHeaderSize + length).substr(kEntryHeaderSize);
  ++entries_read_;
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
