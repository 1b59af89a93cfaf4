#include "snapshot/snapshot_decoder.h"

#include "util/coding.h"

namespace tandem::snapshot {

void SnapshotDecoder::Append(std::string_view bytes) {
  std::span<char> space = AppendSpace(bytes.size());
  std::copy(bytes.begin(), bytes.end(), space.begin());
  Appended(bytes.size());
}

std::span<char> SnapshotDecoder::AppendSpace(size_t n) {
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  space_from_ = buf_.size();
  buf_.resize(space_from_ + n);
  return {buf_.data() + space_from_, n};
}

void SnapshotDecoder::Appended(size_t got) { buf_.resize(space_from_ + got); }

Result<size_t> SnapshotDecoder::AppendFromFile(File& file, uint64_t offset, size_t n) {
  std::span<char> space = AppendSpace(n);
  auto got = file.ReadAt(offset, n, space.data());
  Appended(got.ok() ? *got : 0);
  return got;
}

Status SnapshotDecoder::Error(const std::string& what) const {
  return Status::Corruption("snapshot " + name_ + " offset " + std::to_string(offset_) + ": " +
                            what);
}

Status SnapshotDecoder::NeedMore(size_t n, Step* step) {
  need_ = n - buffered();
  *step = Step::kNeedMore;
  return Status::Ok();
}

std::string_view SnapshotDecoder::Consume(size_t n) {
  std::string_view out = std::string_view(buf_).substr(pos_, n);
  checksum_.Update(out);
  pos_ += n;
  offset_ += n;
  return out;
}

Status SnapshotDecoder::Next(std::string_view* entry, Step* step) {
  if (done_) {
    if (buffered() > 0) return Error("bytes after the trailer");
    *step = Step::kDone;
    return Status::Ok();
  }
  std::string_view data = std::string_view(buf_).substr(pos_);
  if (!header_done_) {
    size_t header_size = 0;
    size_t more = 0;
    Status st = DecodeSnapshotHeader(data, &meta_, &header_size, &more);
    if (!st.ok()) {
      // A short buffer says how much the header needs in all.
      if (more > data.size()) return NeedMore(more, step);
      return Error(st.message());
    }
    Consume(header_size);
    header_done_ = true;
    *step = Step::kHeader;
    return Status::Ok();
  }
  if (data.size() < kEntryHeaderSize) return NeedMore(kEntryHeaderSize, step);
  uint32_t length = DecodeFixed32(data.data());
  if (length == kTrailerMarker) {
    if (data.size() < kTrailerSize) return NeedMore(kTrailerSize, step);
    if (DecodeFixed32(data.data() + 4) != 0) return Error("bad trailer");
    uint64_t count = DecodeFixed64(data.data() + 8);
    uint64_t stored = DecodeFixed64(data.data() + 16);
    Consume(16);  // the checksum covers every byte before its own field
    if (stored != checksum_.Digest()) return Error("whole-file checksum mismatch");
    if (count != entries_read_) {
      return Error("trailer says " + std::to_string(count) + " entries, read " +
                   std::to_string(entries_read_));
    }
    pos_ += 8;
    offset_ += 8;
    done_ = true;
    if (buffered() > 0) return Error("bytes after the trailer");
    *step = Step::kDone;
    return Status::Ok();
  }
  if (length > kMaxEntrySize) return Error("bad entry length " + std::to_string(length));
  if (data.size() < kEntryHeaderSize + length) return NeedMore(kEntryHeaderSize + length, step);
  uint32_t expected = DecodeFixed32(data.data() + 4);
  if (SnapshotEntryChecksum(data.substr(kEntryHeaderSize, length)) != expected) {
    return Error("entry checksum mismatch");
  }
  *entry = Consume(kEntryHeaderSize + length).substr(kEntryHeaderSize);
  ++entries_read_;
  *step = Step::kEntry;
  return Status::Ok();
}

}  // namespace tandem::snapshot
