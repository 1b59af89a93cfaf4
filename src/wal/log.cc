#include "wal/log.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "util/coding.h"

namespace tandem::wal {

namespace {

constexpr uint64_t kCheckpointStride = 64;
constexpr size_t kDiskReadChunk = 256 << 10;
// Bounds per-block overhead when many tiny Syncs fill the read cache.
constexpr size_t kMaxCachedBlocks = 16384;
// Preallocation writes zeros with pwrites of at most this size.
constexpr size_t kZeroChunk = 256 << 10;

std::string_view Zeros(size_t n) {
  static const std::string* zeros = new std::string(kZeroChunk, '\0');
  return std::string_view(*zeros).substr(0, n);
}

std::string SegmentError(const std::string& path, uint64_t offset, const std::string& what) {
  return "wal segment " + path + " offset " + std::to_string(offset) + ": " + what;
}

// Sequential records from a byte range [start, end) of a segment file, read
// ahead in chunks of at least kDiskReadChunk. The end may grow (ExtendEnd)
// while the data before it stays as it was, and Seek moves to another record
// start, within the bytes already read when it can.
class RecordStream {
 public:
  RecordStream(File* file, uint64_t start, uint64_t end)
      : file_(file), file_pos_(start), end_(end), record_offset_(start) {}

  // *done = true at end of range. Payload views live until the next call.
  Status Next(EntryView* entry, bool* done) {
    *done = false;
    for (;;) {
      size_t size = 0;
      std::string_view rest(buf_.get() + pos_, len_ - pos_);
      RecordDecode rd = DecodeRecord(rest, entry, &size);
      if (rd == RecordDecode::kOk) {
        pos_ += size;
        offset_ = record_offset_;
        record_offset_ += size;
        return Status::Ok();
      }
      bool incomplete =
          rd == RecordDecode::kTruncatedHeader || rd == RecordDecode::kTruncatedPayload;
      if (!incomplete) {
        return Status::Corruption(
            SegmentError(file_->path(), record_offset_, RecordDecodeName(rd)));
      }
      if (file_pos_ >= end_) {
        if (rest.empty()) {
          *done = true;
          return Status::Ok();
        }
        return Status::Corruption(
            SegmentError(file_->path(), record_offset_, "record runs past the written end"));
      }
      // Keep the partial record, then read on after it.
      size_t kept = rest.size();
      size_t want = std::max<size_t>(kDiskReadChunk, size > kept ? size - kept : 0);
      want = static_cast<size_t>(std::min<uint64_t>(want, end_ - file_pos_));
      if (kept + want > cap_) {
        size_t cap = std::max(kept + want, 2 * cap_);
        std::unique_ptr<char[]> bigger(new char[cap]);
        std::copy_n(buf_.get() + pos_, kept, bigger.get());
        buf_ = std::move(bigger);
        cap_ = cap;
      } else if (kept > 0) {
        std::copy_n(buf_.get() + pos_, kept, buf_.get());
      }
      pos_ = 0;
      len_ = kept;
      auto n = file_->ReadAt(file_pos_, want, buf_.get() + kept);
      if (!n.ok()) return n.status();
      len_ += *n;
      if (*n == 0) {
        return Status::Corruption(
            SegmentError(file_->path(), file_pos_, "file shorter than expected"));
      }
      file_pos_ += *n;
    }
  }
  // Offset of the record last returned.
  uint64_t offset() const { return offset_; }
  // Offset of the record the next call returns.
  uint64_t next_offset() const { return record_offset_; }
  // The range now ends at `end` (never before the bytes already read).
  void ExtendEnd(uint64_t end) { end_ = std::max(end_, end); }
  // Goes to the record starting at `offset`.
  void Seek(uint64_t offset) {
    uint64_t buffered_start = file_pos_ - len_;
    if (offset >= buffered_start && offset <= file_pos_) {
      pos_ = static_cast<size_t>(offset - buffered_start);
    } else {
      pos_ = len_ = 0;
      file_pos_ = offset;
    }
    record_offset_ = offset;
  }

 private:
  File* file_;
  uint64_t file_pos_;  // file offset just after the buffered bytes
  uint64_t end_;
  uint64_t record_offset_;
  uint64_t offset_ = 0;
  std::unique_ptr<char[]> buf_;  // [0, len_) holds the file's bytes before file_pos_
  size_t cap_ = 0;
  size_t len_ = 0;
  size_t pos_ = 0;  // the next record in buf_
};

// Byte offset of the record at `index` within block bytes (records only).
size_t OffsetInBlock(const std::string& bytes, uint64_t first_index, uint64_t index) {
  size_t pos = 0;
  for (uint64_t i = first_index; i < index; ++i) {
    pos += EncodedRecordSize(DecodeFixed32(bytes.data() + pos));
  }
  return pos;
}

}  // namespace

// Where the last disk read stopped. Reads of a follower catching up are
// sequential: the next one starts where the previous ended (or a little
// before, when the caller kept only a prefix of what it got), so it goes on
// with the same open file and read-ahead instead of reopening the segment
// and rescanning from a checkpoint. Dropped whenever the bytes it may have
// read ahead could change: TruncateSuffix, Reset, a deleted segment, a
// failed fsync.
struct Log::ReadCursor {
  uint64_t segment_first = 0;
  std::unique_ptr<File> file;
  std::optional<RecordStream> stream;
  uint64_t next_index = 0;  // the record stream->next_offset() starts
  // Offsets of the records the last read returned, from batch_first on.
  uint64_t batch_first = 0;
  std::vector<uint64_t> batch_offsets;

  // Moves to `index` when it is the next record or one the last read
  // returned; false otherwise.
  bool SeekTo(uint64_t index) {
    if (index == next_index) return true;
    if (index < batch_first || index - batch_first >= batch_offsets.size()) return false;
    stream->Seek(batch_offsets[index - batch_first]);
    next_index = index;
    return true;
  }
};

Log::Log(Env* env, std::string dir, LogOptions options)
    : env_(env), dir_(std::move(dir)), options_(options), deleter_(env) {}

Log::~Log() {
  // Entries not synced are lost as in a crash, but an fsync that runs ends
  // before the files close.
  (void)WaitForBackgroundSync();
  if (sync_thread_.joinable()) {
    {
      std::lock_guard lock(sync_mu_);
      sync_stop_ = true;
    }
    sync_cv_.notify_all();
    sync_thread_.join();
  }
}

Log::Segment Log::NewSegment(uint64_t first_index, uint64_t prev_term) const {
  Segment seg;
  seg.first_index = first_index;
  seg.last_index = first_index - 1;
  seg.prev_term = prev_term;
  seg.last_term = prev_term;
  seg.path = JoinPath(dir_, SegmentFileName(first_index));
  seg.end_offset = kSegmentHeaderSize;
  return seg;
}

Result<std::unique_ptr<Log>> Log::Open(Env* env, std::string dir, LogOptions options,
                                       RecoveryReport* report) {
  if (options.segment_bytes < kSegmentHeaderSize + kRecordHeaderSize) {
    return Status::InvalidArgument("segment_bytes too small");
  }
  TANDEM_RETURN_IF_ERROR(env->CreateDirs(dir));
  std::unique_ptr<Log> log(new Log(env, std::move(dir), options));
  RecoveryReport local;
  TANDEM_RETURN_IF_ERROR(log->Recover(report != nullptr ? report : &local));
  return log;
}

Status Log::Recover(RecoveryReport* report) {
  auto names = env_->ListDir(dir_);
  if (!names.ok()) return names.status();
  std::vector<uint64_t> starts;
  for (const std::string& name : *names) {
    uint64_t first;
    if (ParseSegmentFileName(name, &first)) starts.push_back(first);
  }
  std::sort(starts.begin(), starts.end());
  report->segments = starts.size();
  if (starts.empty()) {
    segments_.push_back(NewSegment(1, 0));
    return Status::Ok();
  }

  // Validate everything before repairing anything.
  struct Repair {
    uint64_t offset;
    uint64_t bytes;
    std::string reason;
  };
  std::optional<Repair> repair;  // of the last segment, reported
  // Zeros after the last record (preallocated space), not reported.
  std::vector<std::pair<size_t, uint64_t>> zero_tails;  // (segment, data end)
  std::deque<Segment> found;
  std::vector<TermRun> runs;
  std::string data;
  for (size_t i = 0; i < starts.size(); ++i) {
    bool last = i + 1 == starts.size();
    Segment seg = NewSegment(starts[i], 0);
    TANDEM_RETURN_IF_ERROR(env_->ReadFileToString(seg.path, &data));
    uint64_t prev_last_term = runs.empty() ? 0 : runs.back().term;
    SegmentScan scan = ScanSegment(data, [&](const EntryView& e, uint64_t offset) {
      if ((e.index - seg.first_index) % kCheckpointStride == 0) seg.checkpoints.push_back(offset);
      if (runs.empty() || runs.back().term != e.term) runs.push_back({e.index, e.term});
    });
    if (scan.tail == SegmentScan::Tail::kBadHeader) {
      bool all_zero = std::all_of(data.begin(), data.end(), [](char c) { return c == 0; });
      if (last && (data.size() < kSegmentHeaderSize || all_zero)) {
        // Crash while creating the segment: nothing in it was ever durable.
        repair = Repair{0, data.size(), scan.error};
        seg.prev_term = found.empty() ? 0 : found.back().last_term;
        seg.last_term = seg.prev_term;
        if (!found.empty() && found.back().last_index + 1 != seg.first_index) {
          return Status::Corruption(
              SegmentError(seg.path, 0,
                           "missing segment: previous segment ends at index " +
                               std::to_string(found.back().last_index)));
        }
        found.push_back(std::move(seg));
        break;
      }
      return Status::Corruption(SegmentError(seg.path, 0, scan.error));
    }
    if (scan.header.first_index != seg.first_index) {
      return Status::Corruption(SegmentError(
          seg.path, 0, "header says first index " + std::to_string(scan.header.first_index)));
    }
    if (!found.empty()) {
      const Segment& prev = found.back();
      if (prev.last_index + 1 != seg.first_index) {
        return Status::Corruption(
            SegmentError(seg.path, 0,
                         "missing segment: previous segment " + prev.path + " ends at index " +
                             std::to_string(prev.last_index) + " but this one starts at " +
                             std::to_string(seg.first_index)));
      }
      if (scan.header.prev_term != prev_last_term) {
        return Status::Corruption(
            SegmentError(seg.path, 0,
                         "header prev_term " + std::to_string(scan.header.prev_term) +
                             " != previous segment's last term " + std::to_string(prev_last_term)));
      }
    }
    if (scan.tail == SegmentScan::Tail::kCorrupt ||
        (scan.tail == SegmentScan::Tail::kTorn && !last)) {
      return Status::Corruption(SegmentError(seg.path, scan.error_offset, scan.error));
    }
    if (scan.tail == SegmentScan::Tail::kTorn) {
      repair = Repair{scan.valid_end, data.size() - scan.valid_end, scan.error};
    } else if (scan.tail == SegmentScan::Tail::kZeroTail) {
      // Preallocated space: in a non-last segment, a crash between creating
      // the next segment and cutting this one back.
      zero_tails.emplace_back(found.size(), scan.valid_end);
    }
    seg.prev_term = scan.header.prev_term;
    seg.last_index = scan.last_index;
    seg.last_term = scan.last_term;
    seg.end_offset = seg.written_size = seg.durable_size = seg.preallocated_size = scan.valid_end;
    seg.created = true;
    found.push_back(std::move(seg));
  }

  segments_ = std::move(found);
  term_runs_ = std::move(runs);
  for (const auto& [i, end] : zero_tails) {
    Segment& seg = segments_[i];
    TANDEM_RETURN_IF_ERROR(env_->TruncateFile(seg.path, end));
    if (i + 1 < segments_.size()) {  // the tail is fsync'd below
      auto file = env_->OpenFile(seg.path, OpenMode::kReadWrite);
      if (!file.ok()) return file.status();
      TANDEM_RETURN_IF_ERROR((*file)->Sync());
    }
  }
  Segment& tail = segments_.back();
  if (repair.has_value()) {
    TANDEM_RETURN_IF_ERROR(env_->TruncateFile(tail.path, repair->offset));
    report->truncations.push_back({tail.path, repair->offset, repair->bytes, repair->reason});
  }
  last_index_ = tail.last_index;
  last_term_ = tail.last_term;
  if (tail.created) {
    // Whatever survived may only be in the page cache: make it durable.
    auto file = env_->OpenFile(tail.path, OpenMode::kReadWrite);
    if (!file.ok()) return file.status();
    TANDEM_RETURN_IF_ERROR((*file)->DataSync());
    tail.file = std::move(*file);
  }
  TANDEM_RETURN_IF_ERROR(env_->SyncDir(dir_));
  written_index_ = durable_index_ = last_index_;
  return Status::Ok();
}

Status Log::Append(const EntryView& e) {
  if (e.index != last_index_ + 1) {
    return Status::InvalidArgument("append index " + std::to_string(e.index) + ", expected " +
                                   std::to_string(last_index_ + 1));
  }
  if (e.term < last_term_) {
    return Status::InvalidArgument("append term " + std::to_string(e.term) + " < last term " +
                                   std::to_string(last_term_));
  }
  if (e.payload.size() > kMaxPayloadSize) return Status::InvalidArgument("payload too large");
  size_t record_size = EncodedRecordSize(e.payload.size());
  Segment* seg = &segments_.back();
  if (seg->last_index >= seg->first_index &&
      seg->end_offset + record_size > options_.segment_bytes) {
    segments_.push_back(NewSegment(e.index, last_term_));
    seg = &segments_.back();
  }
  if (blocks_.empty() || blocks_.back().state != Block::State::kPending ||
      blocks_.back().segment_first != seg->first_index) {
    Block block;
    block.segment_first = seg->first_index;
    block.file_offset = seg->end_offset;
    block.first_index = e.index;
    blocks_.push_back(std::move(block));
  }
  Block& block = blocks_.back();
  if ((e.index - seg->first_index) % kCheckpointStride == 0) {
    seg->checkpoints.push_back(seg->end_offset);
  }
  AppendRecord(e, &block.bytes);
  block.last_index = e.index;
  seg->end_offset += record_size;
  seg->last_index = e.index;
  seg->last_term = e.term;
  if (term_runs_.empty() || term_runs_.back().term != e.term) {
    term_runs_.push_back({e.index, e.term});
  }
  last_index_ = e.index;
  last_term_ = e.term;
  return Status::Ok();
}

Status Log::Append(std::span<const EntryView> entries) {
  for (const EntryView& e : entries) TANDEM_RETURN_IF_ERROR(Append(e));
  return Status::Ok();
}

Status Log::Append(std::span<const LogEntry> entries) {
  for (const LogEntry& e : entries) TANDEM_RETURN_IF_ERROR(Append(e.view()));
  return Status::Ok();
}

Log::Segment* Log::FindSegment(uint64_t index) {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), index,
                             [](uint64_t i, const Segment& s) { return i < s.first_index; });
  if (it == segments_.begin()) return nullptr;
  return &*std::prev(it);
}

// Makes seg's file exist, open for writing, with nothing past written_size.
Status Log::PrepareForWrite(Segment* seg) {
  if (!seg->created) {
    seg->file.reset();
    auto file = env_->OpenFile(seg->path, OpenMode::kCreateTruncate);
    if (!file.ok()) return file.status();
    seg->file = std::move(*file);
    seg->new_in_dir = true;
    std::string header;
    EncodeSegmentHeader(SegmentHeader{seg->first_index, seg->prev_term}, &header);
    Status st = seg->file->WriteAt(0, header);
    if (!st.ok()) {
      seg->needs_truncate = true;
      return st;
    }
    seg->created = true;
    seg->needs_truncate = false;
    seg->written_size = seg->preallocated_size = kSegmentHeaderSize;
    seg->durable_size = 0;
  }
  if (seg->file == nullptr) {
    auto file = env_->OpenFile(seg->path, OpenMode::kReadWrite);
    if (!file.ok()) return file.status();
    seg->file = std::move(*file);
  }
  if (seg->needs_truncate) {
    TANDEM_RETURN_IF_ERROR(seg->file->Truncate(seg->written_size));
    seg->needs_truncate = false;
    seg->preallocated_size = seg->written_size;
  }
  return Status::Ok();
}

// Extends the tail segment's file with zeros so that the next group commits
// overwrite existing bytes instead of growing the file. Called after data was
// written up to (or past) preallocated_size. Zeros go from the file's end to
// round_up(written_size + kPreallocateStep), at most max(segment_bytes,
// written_size). ENOSPC is not an error: whatever zeros fit are kept and the
// log appends past them. Any other failure fails the Sync; the next one cuts
// the file back to written_size and tries again.
Status Log::Preallocate(Segment* seg) {
  uint64_t end = seg->written_size;
  uint64_t target = (end + 2 * kPreallocateStep - 1) / kPreallocateStep * kPreallocateStep;
  target = std::min(target, std::max(options_.segment_bytes, end));
  while (seg->preallocated_size < target) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kZeroChunk, target - seg->preallocated_size));
    Status st = seg->file->WriteAt(seg->preallocated_size, Zeros(n));
    if (!st.ok()) {
      // Part of the zeros may be in the file: still all zero past written_size.
      if (st.IsNoSpace()) {
        auto size = seg->file->Size();
        if (size.ok() && *size >= seg->preallocated_size) {
          seg->preallocated_size = *size;
        } else {
          seg->needs_truncate = true;
        }
        return Status::Ok();
      }
      seg->needs_truncate = true;
      return st;
    }
    seg->preallocated_size += n;
  }
  return Status::Ok();
}

// Before the segment after `seg` is created: cuts seg's zero tail so that a
// closed segment ends at its last record, and (unless kNever) makes the cut
// durable first. A crash in between leaves zeros in a non-last segment,
// which recovery accepts. Unconditional (two syscalls per segment): after a
// failed fsync the file may hold more than preallocated_size says.
Status Log::TrimClosedSegment(Segment* seg) {
  if (!seg->created) return Status::Ok();
  seg->needs_truncate = true;
  TANDEM_RETURN_IF_ERROR(PrepareForWrite(seg));
  if (options_.sync_policy == SyncPolicy::kNever) return Status::Ok();
  Status st = seg->file->Sync();  // fsync: the size change is the point
  if (!st.ok()) {
    OnFsyncFailure();
    return st;
  }
  seg->durable_size = seg->written_size;
  return Status::Ok();
}

Status Log::WritePending() {
  if (running_job_) {
    // Rolling to a new segment cuts and fsyncs the old one: not while a
    // background fsync runs on it.
    bool rolls = std::any_of(blocks_.begin() + FirstPendingBlock(), blocks_.end(),
                             [&](const Block& b) { return !FindSegment(b.first_index)->created; });
    if (rolls) (void)WaitForBackgroundSync();  // a failure is reported by FinishBackgroundSync
  }
  // Segments with a pending cut but no new data (after TruncateSuffix).
  for (Segment& seg : segments_) {
    if (seg.needs_truncate && seg.created) TANDEM_RETURN_IF_ERROR(PrepareForWrite(&seg));
  }
  // After the wait: it may have evicted blocks or made written ones pending.
  size_t first_pending = FirstPendingBlock();
  Segment& tail = segments_.back();
  bool wrote_tail = false;
  for (size_t i = first_pending; i < blocks_.size(); ++i) {
    Block& block = blocks_[i];
    Segment* seg = FindSegment(block.first_index);
    if (!seg->created && seg->first_index > first_index()) {
      TANDEM_RETURN_IF_ERROR(TrimClosedSegment(FindSegment(seg->first_index - 1)));
    }
    TANDEM_RETURN_IF_ERROR(PrepareForWrite(seg));
    Status st = seg->file->WriteAt(block.file_offset, block.bytes);
    if (!st.ok()) {
      seg->needs_truncate = true;  // a short write may have left junk
      return st;
    }
    block.state = Block::State::kWritten;
    seg->written_size = block.file_offset + block.bytes.size();
    seg->preallocated_size = std::max(seg->preallocated_size, seg->written_size);
    written_index_ = block.last_index;
    wrote_tail |= seg == &tail;
  }
  // Data reached the end of the zeros (in this Sync, or in one whose
  // preallocation failed).
  if ((wrote_tail || tail.written_size > tail.durable_size) && tail.file != nullptr &&
      !tail.needs_truncate && tail.preallocated_size <= tail.written_size) {
    TANDEM_RETURN_IF_ERROR(Preallocate(&tail));
  }
  if (options_.sync_policy == SyncPolicy::kNever) {
    for (Segment& seg : segments_) {
      seg.durable_size = seg.written_size;
      seg.new_in_dir = false;
      if (&seg != &segments_.back()) seg.file.reset();
    }
    MarkBlocksDurableThrough(written_index_);
    durable_index_ = written_index_;
    EvictCache();
  }
  return Status::Ok();
}

Status Log::FsyncWritten() {
  bool dir_dirty = false;
  for (Segment& seg : segments_) {
    if (seg.written_size > seg.durable_size && seg.file != nullptr) {
      Status st = seg.file->DataSync();
      if (!st.ok()) {
        OnFsyncFailure();
        return st;
      }
      seg.durable_size = seg.written_size;
    }
    dir_dirty |= seg.new_in_dir;
  }
  if (dir_dirty) {
    Status st = env_->SyncDir(dir_);
    if (!st.ok()) {
      OnFsyncFailure();
      return st;
    }
    for (Segment& seg : segments_) seg.new_in_dir = false;
  }
  for (Segment& seg : segments_) {
    if (&seg != &segments_.back()) seg.file.reset();
  }
  MarkBlocksDurableThrough(written_index_);
  durable_index_ = written_index_;
  background_failure_ = Status::Ok();  // superseded: everything written is durable
  EvictCache();
  return Status::Ok();
}

// Blocks are ordered durable, then written, then pending: only the suffix
// after the last durable block needs looking at (written blocks pile up only
// between periodic fsyncs under kEverySecond).
size_t Log::FirstNonDurableBlock() const {
  size_t i = blocks_.size();
  while (i > 0 && blocks_[i - 1].state != Block::State::kDurable) --i;
  return i;
}

// The pending blocks are a suffix (see above). Looking only at it matters:
// the cache before it holds up to kMaxCachedBlocks blocks, and a scan of all
// of them on every write was 7% of a leader's loop under small group commits.
size_t Log::FirstPendingBlock() const {
  size_t i = blocks_.size();
  while (i > 0 && blocks_[i - 1].state == Block::State::kPending) --i;
  return i;
}

void Log::MarkBlocksDurableThrough(uint64_t index) {
  for (size_t i = FirstNonDurableBlock(); i < blocks_.size(); ++i) {
    Block& block = blocks_[i];
    if (block.last_index > index) break;
    if (block.state == Block::State::kWritten) {
      block.state = Block::State::kDurable;
      durable_block_bytes_ += block.bytes.size();
    }
  }
}

// The page cache is not trusted after a failed fsync: everything after the
// last durable point is rewritten by the next Sync.
void Log::OnFsyncFailure() {
  cursor_.reset();  // what it read ahead may be rewritten
  for (Segment& seg : segments_) {
    if (seg.written_size > seg.durable_size || seg.new_in_dir) {
      seg.written_size = seg.durable_size;
      seg.needs_truncate = true;
      if (seg.durable_size < kSegmentHeaderSize) {
        seg.created = false;  // header not durable: recreate the file
        seg.file.reset();
      }
    }
  }
  for (Block& block : blocks_) {
    if (block.state == Block::State::kWritten) block.state = Block::State::kPending;
  }
  written_index_ = durable_index_;
}

void Log::EvictCache() {
  while (!blocks_.empty() && blocks_.front().state == Block::State::kDurable &&
         (durable_block_bytes_ > options_.cache_bytes || blocks_.size() > kMaxCachedBlocks)) {
    durable_block_bytes_ -= blocks_.front().bytes.size();
    blocks_.pop_front();
  }
}

Result<uint64_t> Log::Sync() {
  (void)WaitForBackgroundSync();  // a failure: this Sync rewrites the data
  TANDEM_RETURN_IF_ERROR(WritePending());
  if (options_.sync_policy == SyncPolicy::kAlways) {
    TANDEM_RETURN_IF_ERROR(FsyncWritten());
    return durable_index_;
  }
  return written_index_;
}

Status Log::MaybeSyncPeriodic(int64_t now_ms) {
  if (options_.sync_policy != SyncPolicy::kEverySecond) return Status::Ok();
  (void)WaitForBackgroundSync();
  if (now_ms - last_fsync_ms_ < options_.periodic_sync_ms) return Status::Ok();
  last_fsync_ms_ = now_ms;
  if (durable_index_ == written_index_) {
    bool pending_cut = std::any_of(segments_.begin(), segments_.end(), [](const Segment& s) {
      return s.written_size != s.durable_size || s.new_in_dir;
    });
    if (!pending_cut) return Status::Ok();
  }
  return FsyncWritten();
}

Result<uint64_t> Log::SyncAll() {
  (void)WaitForBackgroundSync();
  TANDEM_RETURN_IF_ERROR(WritePending());
  if (options_.sync_policy == SyncPolicy::kNever) {
    Segment& tail = segments_.back();
    if (tail.file != nullptr) TANDEM_RETURN_IF_ERROR(tail.file->DataSync());
    TANDEM_RETURN_IF_ERROR(env_->SyncDir(dir_));
  } else {
    TANDEM_RETURN_IF_ERROR(FsyncWritten());
  }
  return durable_index_;
}

Result<uint64_t> Log::TermAt(uint64_t index) const {
  uint64_t first = first_index();
  if (index + 1 < first || index > last_index_) {
    return Status::NotFound("no entry at index " + std::to_string(index) + " (log holds " +
                            std::to_string(first) + ".." + std::to_string(last_index_) + ")");
  }
  if (index + 1 == first) return segments_.front().prev_term;
  auto it = std::upper_bound(term_runs_.begin(), term_runs_.end(), index,
                             [](uint64_t i, const TermRun& r) { return i < r.start_index; });
  if (it == term_runs_.begin()) return Status::Corruption("term index out of sync");
  return std::prev(it)->term;
}

uint64_t Log::MemoryFirstIndex() const {
  return blocks_.empty() ? last_index_ + 1 : blocks_.front().first_index;
}

Status Log::Read(uint64_t from, size_t max_bytes, std::vector<LogEntry>* out) {
  if (from < first_index()) {
    return Status::NotFound("index " + std::to_string(from) + " compacted (first index " +
                            std::to_string(first_index()) + ")");
  }
  size_t bytes = 0;
  size_t start_count = out->size();
  while (from <= last_index_ && (out->size() == start_count || bytes < max_bytes)) {
    size_t before = out->size();
    if (from >= MemoryFirstIndex()) {
      TANDEM_RETURN_IF_ERROR(ReadFromMemory(from, max_bytes, out, &bytes));
    } else {
      TANDEM_RETURN_IF_ERROR(ReadFromDisk(from, max_bytes, out, &bytes));
    }
    if (out->size() == before) return Status::Corruption("log read made no progress");
    from = out->back().index + 1;
  }
  return Status::Ok();
}

Status Log::ReadFromMemory(uint64_t from, size_t max_bytes, std::vector<LogEntry>* out,
                           size_t* bytes) {
  auto it = std::upper_bound(blocks_.begin(), blocks_.end(), from,
                             [](uint64_t i, const Block& b) { return i < b.first_index; });
  for (--it; it != blocks_.end(); ++it) {
    const Block& block = *it;
    size_t pos = from > block.first_index ? OffsetInBlock(block.bytes, block.first_index, from) : 0;
    while (pos < block.bytes.size()) {
      EntryView e;
      size_t size = 0;
      if (DecodeRecord(std::string_view(block.bytes).substr(pos), &e, &size) != RecordDecode::kOk) {
        return Status::Corruption("in-memory log block damaged");
      }
      out->push_back(LogEntry{e.term, e.index, e.type, std::string(e.payload)});
      *bytes += e.payload.size();
      pos += size;
      if (*bytes >= max_bytes) return Status::Ok();
    }
    from = block.last_index + 1;
  }
  return Status::Ok();
}

Result<uint64_t> Log::OffsetOf(Segment* seg, uint64_t index) {
  if (index > seg->last_index) return seg->end_offset;
  uint64_t k = (index - seg->first_index) / kCheckpointStride;
  uint64_t at = seg->first_index + k * kCheckpointStride;
  uint64_t offset = seg->checkpoints[k];
  // Prefer memory when the record is buffered.
  if (index >= MemoryFirstIndex()) {
    auto it = std::upper_bound(blocks_.begin(), blocks_.end(), index,
                               [](uint64_t i, const Block& b) { return i < b.first_index; });
    const Block& block = *std::prev(it);
    return block.file_offset + OffsetInBlock(block.bytes, block.first_index, index);
  }
  if (at == index) return offset;
  auto file = env_->OpenFile(seg->path, OpenMode::kReadOnly);
  if (!file.ok()) return file.status();
  RecordStream stream(file->get(), offset, seg->written_size);
  for (;;) {
    EntryView e;
    bool done;
    TANDEM_RETURN_IF_ERROR(stream.Next(&e, &done));
    if (done) return Status::Corruption(SegmentError(seg->path, offset, "record not found"));
    if (e.index == index) return stream.offset();
  }
}

Status Log::ReadFromDisk(uint64_t from, size_t max_bytes, std::vector<LogEntry>* out,
                         size_t* bytes) {
  Segment* seg = FindSegment(from);
  if (seg == nullptr) return Status::NotFound("no segment for index " + std::to_string(from));
  if (cursor_ == nullptr || cursor_->segment_first != seg->first_index ||
      !cursor_->SeekTo(from)) {
    cursor_.reset();
    auto offset = OffsetOf(seg, from);
    if (!offset.ok()) return offset.status();
    auto file = env_->OpenFile(seg->path, OpenMode::kReadOnly);
    if (!file.ok()) return file.status();
    auto cursor = std::make_unique<ReadCursor>();
    cursor->segment_first = seg->first_index;
    cursor->file = std::move(*file);
    cursor->stream.emplace(cursor->file.get(), *offset, seg->written_size);
    cursor->next_index = from;
    cursor_ = std::move(cursor);
  }
  ReadCursor& c = *cursor_;
  RecordStream& stream = *c.stream;
  stream.ExtendEnd(seg->written_size);  // the segment may have grown since
  c.batch_first = from;
  c.batch_offsets.clear();
  uint64_t stop = std::min(seg->last_index, MemoryFirstIndex() - 1);
  for (uint64_t want = from; want <= stop;) {
    EntryView e;
    bool done;
    Status st = stream.Next(&e, &done);
    if (st.ok() && (done || e.index != want)) {
      st = Status::Corruption(
          SegmentError(seg->path, stream.offset(), "expected index " + std::to_string(want)));
    }
    if (!st.ok()) {
      cursor_.reset();
      return st;
    }
    c.batch_offsets.push_back(stream.offset());
    out->push_back(LogEntry{e.term, e.index, e.type, std::string(e.payload)});
    *bytes += e.payload.size();
    c.next_index = ++want;
    if (*bytes >= max_bytes) break;
  }
  return Status::Ok();
}

Status Log::ForEach(uint64_t from, const std::function<Status(const EntryView&)>& fn) {
  std::vector<LogEntry> batch;
  while (from <= last_index_) {
    batch.clear();
    TANDEM_RETURN_IF_ERROR(Read(from, 4 << 20, &batch));
    for (const LogEntry& e : batch) TANDEM_RETURN_IF_ERROR(fn(e.view()));
    from = batch.back().index + 1;
  }
  return Status::Ok();
}

bool Log::CloseSegmentFile(Segment* seg) {
  if (cursor_ != nullptr && cursor_->segment_first == seg->first_index) cursor_.reset();
  seg->file.reset();
  return seg->created || env_->FileExists(seg->path);
}

void Log::RetireSegmentFile(Segment* seg) {
  if (CloseSegmentFile(seg)) deleter_.Delete(seg->path);
}

Status Log::DeleteSegmentFile(Segment* seg) {
  if (!CloseSegmentFile(seg)) return Status::Ok();
  Status st = env_->DeleteFile(seg->path);
  if (st.IsNotFound()) return Status::Ok();
  return st;
}

Status Log::TruncateSuffix(uint64_t after_index) {
  if (after_index >= last_index_) return Status::Ok();
  cursor_.reset();  // it may have read ahead what is cut
  (void)WaitForBackgroundSync();
  if (after_index + 1 < first_index()) {
    return Status::InvalidArgument("cannot truncate below the first index " +
                                   std::to_string(first_index()));
  }
  auto new_last_term = TermAt(after_index);
  if (!new_last_term.ok()) return new_last_term.status();

  // 1. Whole segments after the cut, newest first, so a crash leaves a prefix.
  bool deleted = false;
  while (segments_.size() > 1 && segments_.back().first_index > after_index) {
    Segment& seg = segments_.back();
    TANDEM_RETURN_IF_ERROR(DeleteSegmentFile(&seg));
    while (!blocks_.empty() && blocks_.back().segment_first == seg.first_index) {
      if (blocks_.back().state == Block::State::kDurable) {
        durable_block_bytes_ -= blocks_.back().bytes.size();
      }
      blocks_.pop_back();
    }
    segments_.pop_back();
    last_index_ = segments_.back().last_index;
    last_term_ = segments_.back().last_term;
    deleted = true;
  }
  // 2. Cut the segment holding after_index (or the empty first segment).
  Segment& seg = segments_.back();
  auto cut = OffsetOf(&seg, after_index + 1);
  if (!cut.ok()) return cut.status();
  while (!blocks_.empty() && blocks_.back().first_index > after_index) {
    if (blocks_.back().state == Block::State::kDurable) {
      durable_block_bytes_ -= blocks_.back().bytes.size();
    }
    blocks_.pop_back();
  }
  if (!blocks_.empty() && blocks_.back().last_index > after_index) {
    Block& block = blocks_.back();
    size_t keep = *cut - block.file_offset;
    if (block.state == Block::State::kDurable) durable_block_bytes_ -= block.bytes.size() - keep;
    block.bytes.resize(keep);
    block.last_index = after_index;
  }
  seg.checkpoints.resize((after_index + 1 - seg.first_index + kCheckpointStride - 1) /
                         kCheckpointStride);
  seg.end_offset = *cut;
  seg.last_index = after_index;
  seg.last_term = *new_last_term;
  while (!term_runs_.empty() && term_runs_.back().start_index > after_index) {
    term_runs_.pop_back();
  }
  last_index_ = after_index;
  last_term_ = *new_last_term;
  written_index_ = std::min(written_index_, after_index);
  durable_index_ = std::min(durable_index_, after_index);
  Status st;
  if (seg.created && seg.written_size > *cut) {
    seg.written_size = *cut;
    seg.durable_size = std::min(seg.durable_size, *cut);
    seg.needs_truncate = true;
    st = PrepareForWrite(&seg);
  }
  if (deleted) {
    Status dir_st = env_->SyncDir(dir_);
    if (st.ok()) st = dir_st;
  }
  return st;
}

Status Log::CompactPrefix(uint64_t up_to_index) {
  (void)WaitForBackgroundSync();
  while (segments_.size() > 1) {
    Segment& seg = segments_.front();
    if (seg.last_index > up_to_index || seg.last_index > durable_index_ ||
        seg.durable_size < seg.end_offset) {
      break;
    }
    RetireSegmentFile(&seg);
    while (!blocks_.empty() && blocks_.front().segment_first == seg.first_index) {
      if (blocks_.front().state == Block::State::kDurable) {
        durable_block_bytes_ -= blocks_.front().bytes.size();
      }
      blocks_.pop_front();
    }
    segments_.pop_front();
  }
  uint64_t first = first_index();
  auto keep = std::upper_bound(term_runs_.begin(), term_runs_.end(), first,
                               [](uint64_t i, const TermRun& r) { return i < r.start_index; });
  if (keep != term_runs_.begin()) term_runs_.erase(term_runs_.begin(), std::prev(keep));
  return deleter_.TakeFailure();
}

Status Log::WaitForFileDeletions() {
  deleter_.Retry();
  return deleter_.Drain();
}

Status Log::Reset(uint64_t next_index, uint64_t prev_term) {
  if (next_index == 0) return Status::InvalidArgument("next_index must be >= 1");
  cursor_.reset();
  (void)WaitForBackgroundSync();  // the reset supersedes whatever it covered
  // Older segments still being deleted first: deleting the newer ones before
  // them could leave a gap.
  Status drained = WaitForFileDeletions();
  if (deleter_.pending() > 0) return drained;  // a deletion failed again
  while (!segments_.empty()) {
    Status st = DeleteSegmentFile(&segments_.back());
    if (!st.ok()) {
      blocks_.clear();  // keep the survivors a consistent, on-disk prefix
      durable_block_bytes_ = 0;
      last_index_ = written_index_ = durable_index_ = segments_.back().last_index;
      last_term_ = segments_.back().last_term;
      return st;
    }
    segments_.pop_back();
  }
  blocks_.clear();
  term_runs_.clear();
  durable_block_bytes_ = 0;
  segments_.push_back(NewSegment(next_index, prev_term));
  last_index_ = written_index_ = durable_index_ = next_index - 1;
  last_term_ = prev_term;
  Segment& seg = segments_.back();
  TANDEM_RETURN_IF_ERROR(PrepareForWrite(&seg));
  TANDEM_RETURN_IF_ERROR(FsyncWritten());
  return Status::Ok();
}

void Log::set_sync_policy(SyncPolicy policy) {
  (void)WaitForBackgroundSync();
  options_.sync_policy = policy;
}

Status Log::StartBackgroundSync() {
  if (options_.sync_policy != SyncPolicy::kAlways) return Sync().status();
  TANDEM_RETURN_IF_ERROR(WritePending());
  if (running_job_) return Status::Ok();  // the next one covers what was written now
  SyncJob job;
  std::vector<std::shared_ptr<File>> files;
  for (Segment& seg : segments_) {
    if (seg.written_size > seg.durable_size && seg.file != nullptr) {
      job.segment_sizes.emplace_back(seg.first_index, seg.written_size);
      files.push_back(seg.file);
    }
    job.sync_dir |= seg.new_in_dir;
  }
  job.through_index = written_index_;
  if (files.empty() && !job.sync_dir) {
    // Nothing written since the last fsync (or only what one already covers).
    if (written_index_ > durable_index_) (void)FsyncWritten();
    return Status::Ok();
  }
  if (!sync_thread_.joinable()) sync_thread_ = std::thread([this] { SyncThreadMain(); });
  {
    std::lock_guard lock(sync_mu_);
    job_files_ = std::move(files);
    job_sync_dir_ = job.sync_dir;
    job_posted_ = true;
    job_done_ = false;
  }
  sync_cv_.notify_all();
  running_job_ = std::move(job);
  return Status::Ok();
}

Status Log::FinishBackgroundSync() {
  (void)CollectBackgroundSync(/*wait=*/false);
  return std::exchange(background_failure_, Status::Ok());
}

Status Log::WaitForBackgroundSync() {
  return CollectBackgroundSync(/*wait=*/true).value_or(Status::Ok());
}

std::optional<Status> Log::CollectBackgroundSync(bool wait) {
  if (!running_job_) return std::nullopt;
  Status result;
  {
    std::unique_lock lock(sync_mu_);
    if (wait) {
      sync_cv_.wait(lock, [&] { return job_done_; });
    } else if (!job_done_) {
      return std::nullopt;
    }
    result = job_result_;
    job_done_ = false;
  }
  SyncJob job = std::move(*running_job_);
  running_job_.reset();
  ApplyBackgroundSync(job, result);
  return result;
}

void Log::SetBackgroundSyncDone(std::function<void()> done) {
  std::lock_guard lock(sync_mu_);
  sync_done_ = std::move(done);
}

// No segment file is created or deleted while a background fsync runs
// (everything that would waits for it; Append may only add a segment in
// memory), so the job's segments are found by their first index; only the
// tail may have grown.
void Log::ApplyBackgroundSync(const SyncJob& job, const Status& result) {
  if (!result.ok()) {
    OnFsyncFailure();
    background_failure_ = result;
    return;
  }
  for (Segment& seg : segments_) {
    for (const auto& [first, size] : job.segment_sizes) {
      if (seg.first_index == first && seg.created) {
        seg.durable_size = std::max(seg.durable_size, std::min(size, seg.written_size));
      }
    }
    if (job.sync_dir) seg.new_in_dir = false;
    if (&seg != &segments_.back() && seg.durable_size >= seg.written_size) seg.file.reset();
  }
  MarkBlocksDurableThrough(job.through_index);
  durable_index_ = std::max(durable_index_, std::min(job.through_index, written_index_));
  background_failure_ = Status::Ok();
  EvictCache();
}

void Log::SyncThreadMain() {
  std::unique_lock lock(sync_mu_);
  for (;;) {
    sync_cv_.wait(lock, [&] { return sync_stop_ || job_posted_; });
    if (!job_posted_) return;
    job_posted_ = false;
    std::vector<std::shared_ptr<File>> files = std::move(job_files_);
    job_files_.clear();
    bool sync_dir = job_sync_dir_;
    lock.unlock();
    Status st;
    for (const auto& file : files) {
      st = file->DataSync();
      if (!st.ok()) break;
    }
    if (st.ok() && sync_dir) st = env_->SyncDir(dir_);
    files.clear();
    lock.lock();
    job_result_ = st;
    job_done_ = true;
    sync_cv_.notify_all();
    if (sync_done_) sync_done_();
  }
}

}  // namespace tandem::wal
