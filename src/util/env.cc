#include "util/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tandem {

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') out.push_back('/');
  out.append(name);
  return out;
}

Status Env::ReadFileToString(const std::string& path, std::string* out) {
  auto file = OpenFile(path, OpenMode::kReadOnly);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  out->resize(*size);
  size_t done = 0;
  while (done < out->size()) {
    auto n = (*file)->ReadAt(done, out->size() - done, out->data() + done);
    if (!n.ok()) return n.status();
    if (*n == 0) break;  // shrank under us
    done += *n;
  }
  out->resize(done);
  return Status::Ok();
}

Env* Env::Default() {
  static PosixEnv env;
  return &env;
}

// ----------------------------------------------------------------------------
// PosixEnv

namespace {

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd, uint64_t append_pos)
      : path_(std::move(path)), fd_(fd), append_pos_(append_pos) {}
  ~PosixFile() override { ::close(fd_); }

  const std::string& path() const override { return path_; }

  Status WriteAt(uint64_t offset, std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::pwrite(fd_, p, left, static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("write " + path_, errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
      offset += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }

  Status Append(std::string_view data) override {
    TANDEM_RETURN_IF_ERROR(WriteAt(append_pos_, data));
    append_pos_ += data.size();
    return Status::Ok();
  }

  Result<size_t> ReadAt(uint64_t offset, size_t n, char* dst) override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, dst + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("read " + path_, errno);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }

  Status Sync() override {
    if (::fsync(fd_) != 0) return Status::FromErrno("fsync " + path_, errno);
    return Status::Ok();
  }

  Status DataSync() override {
    if (::fdatasync(fd_) != 0) return Status::FromErrno("fdatasync " + path_, errno);
    return Status::Ok();
  }

  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return Status::FromErrno("ftruncate " + path_, errno);
    }
    append_pos_ = size;
    return Status::Ok();
  }

  Result<uint64_t> Size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Status::FromErrno("fstat " + path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  void StartWriteback(uint64_t offset, uint64_t length) override {
    (void)::sync_file_range(fd_, static_cast<off_t>(offset), static_cast<off_t>(length),
                            SYNC_FILE_RANGE_WRITE);
  }

 private:
  std::string path_;
  int fd_;
  uint64_t append_pos_;
};

}  // namespace

Result<std::unique_ptr<File>> PosixEnv::OpenFile(const std::string& path, OpenMode mode) {
  int flags = O_CLOEXEC;
  switch (mode) {
    case OpenMode::kReadOnly:
      flags |= O_RDONLY;
      break;
    case OpenMode::kReadWrite:
      flags |= O_RDWR;
      break;
    case OpenMode::kCreate:
      flags |= O_RDWR | O_CREAT;
      break;
    case OpenMode::kCreateTruncate:
      flags |= O_RDWR | O_CREAT | O_TRUNC;
      break;
  }
  int fd;
  do {
    fd = ::open(path.c_str(), flags, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("open " + path + ": no such file");
    return Status::FromErrno("open " + path, errno);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno("fstat " + path, err);
  }
  return std::unique_ptr<File>(
      std::make_unique<PosixFile>(path, fd, static_cast<uint64_t>(st.st_size)));
}

Status PosixEnv::RenameFile(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return Status::FromErrno("rename " + from + " to " + to, errno);
  }
  return Status::Ok();
}

Status PosixEnv::DeleteFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::NotFound("unlink " + path + ": no such file");
    return Status::FromErrno("unlink " + path, errno);
  }
  return Status::Ok();
}

Status PosixEnv::CreateDirs(const std::string& dir) {
  if (dir.empty()) return Status::InvalidArgument("empty directory name");
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty() || partial == "/") continue;
    if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::FromErrno("mkdir " + partial, errno);
    }
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return Status::FromErrno("stat " + dir, errno);
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(dir + " is not a directory");
  return Status::Ok();
}

Result<std::vector<std::string>> PosixEnv::ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return Status::NotFound("opendir " + dir + ": no such directory");
    return Status::FromErrno("opendir " + dir, errno);
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name(e->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return Status::FromErrno("readdir " + dir, err);
  return names;
}

Result<uint64_t> PosixEnv::FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound("stat " + path + ": no such file");
    return Status::FromErrno("stat " + path, errno);
  }
  return static_cast<uint64_t>(st.st_size);
}

bool PosixEnv::FileExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

Status PosixEnv::TruncateFile(const std::string& path, uint64_t size) {
  if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
    return Status::FromErrno("truncate " + path, errno);
  }
  return Status::Ok();
}

Status PosixEnv::SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open dir " + dir, errno);
  Status st;
  if (::fsync(fd) != 0) st = Status::FromErrno("fsync dir " + dir, errno);
  ::close(fd);
  return st;
}

Result<uint64_t> PosixEnv::FreeBytes(const std::string& dir) {
  struct statvfs vfs;
  if (::statvfs(dir.c_str(), &vfs) != 0) return Status::FromErrno("statvfs " + dir, errno);
  return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

// ----------------------------------------------------------------------------
// FaultInjectionEnv

class FaultInjectionFile final : public File {
 public:
  FaultInjectionFile(FaultInjectionEnv* env, std::unique_ptr<File> base, bool writable)
      : env_(env), base_(std::move(base)), writable_(writable) {}

  const std::string& path() const override { return base_->path(); }

  Status WriteAt(uint64_t offset, std::string_view data) override {
    env_->WaitWhileWritesHeld();
    std::lock_guard lock(env_->mu_);
    TANDEM_RETURN_IF_ERROR(CheckWritable());
    ++env_->write_calls_;
    if (int err = FaultInjectionEnv::NextFault(&env_->write_fault_)) {
      if (env_->write_fault_.flag && data.size() > 1) {
        (void)base_->WriteAt(offset, data.substr(0, data.size() / 2));
      }
      return Status::FromErrno("write " + path() + " (injected)", err);
    }
    return base_->WriteAt(offset, data);
  }

  Status Append(std::string_view data) override {
    env_->WaitWhileWritesHeld();
    std::lock_guard lock(env_->mu_);
    TANDEM_RETURN_IF_ERROR(CheckWritable());
    ++env_->write_calls_;
    if (int err = FaultInjectionEnv::NextFault(&env_->write_fault_)) {
      if (env_->write_fault_.flag && data.size() > 1) {
        auto size = base_->Size();
        if (size.ok()) (void)base_->WriteAt(*size, data.substr(0, data.size() / 2));
      }
      return Status::FromErrno("write " + path() + " (injected)", err);
    }
    return base_->Append(data);
  }

  Result<size_t> ReadAt(uint64_t offset, size_t n, char* dst) override {
    return base_->ReadAt(offset, n, dst);
  }

  Status Sync() override { return SyncImpl(/*data_only=*/false); }
  Status DataSync() override { return SyncImpl(/*data_only=*/true); }

  Status Truncate(uint64_t size) override {
    std::lock_guard lock(env_->mu_);
    TANDEM_RETURN_IF_ERROR(CheckWritable());
    ++env_->write_calls_;
    if (int err = FaultInjectionEnv::NextFault(&env_->write_fault_)) {
      return Status::FromErrno("ftruncate " + path() + " (injected)", err);
    }
    return base_->Truncate(size);
  }

  Result<uint64_t> Size() override { return base_->Size(); }
  // Recorded only: in the model nothing but a sync makes data durable.
  void StartWriteback(uint64_t offset, uint64_t length) override {
    {
      std::lock_guard lock(env_->mu_);
      env_->writeback_calls_.push_back({path(), offset, length});
    }
    base_->StartWriteback(offset, length);
  }

 private:
  Status CheckWritable() {
    if (!writable_) return Status::InvalidArgument(path() + " is open read-only");
    return Status::Ok();
  }

  Status SyncImpl(bool data_only) {
    std::lock_guard lock(env_->mu_);
    ++env_->sync_calls_;
    if (int err = FaultInjectionEnv::NextFault(&env_->sync_fault_)) {
      if (env_->sync_fault_.flag && writable_) {
        TANDEM_RETURN_IF_ERROR(env_->RevertToSynced(path()));
      }
      return Status::FromErrno("fsync " + path() + " (injected)", err);
    }
    TANDEM_RETURN_IF_ERROR(data_only ? base_->DataSync() : base_->Sync());
    if (writable_) return env_->RecordSynced(path());
    return Status::Ok();
  }

  FaultInjectionEnv* env_;
  std::unique_ptr<File> base_;
  bool writable_;
};

void FaultInjectionEnv::FailWrites(int err, int after_ok, bool short_write) {
  std::lock_guard lock(mu_);
  write_fault_ = Fault{err, after_ok, short_write};
}

void FaultInjectionEnv::FailSyncs(int err, int after_ok, bool drop_unsynced) {
  std::lock_guard lock(mu_);
  sync_fault_ = Fault{err, after_ok, drop_unsynced};
}

void FaultInjectionEnv::ClearFaults() {
  {
    std::lock_guard lock(mu_);
    write_fault_ = Fault{};
    sync_fault_ = Fault{};
  }
  FailDeletes(0);
  HoldDeletes(false);
  HoldWrites(false);
}

int FaultInjectionEnv::NextFault(Fault* fault) {
  if (fault->err == 0) return 0;
  if (fault->after_ok > 0) {
    --fault->after_ok;
    return 0;
  }
  return fault->err;
}

void FaultInjectionEnv::Track(const std::string& path) {
  if (synced_.count(path)) return;
  std::optional<std::string> contents;
  if (base_->FileExists(path)) {
    std::string data;
    if (base_->ReadFileToString(path, &data).ok()) contents = std::move(data);
  }
  synced_[path] = std::move(contents);
}

Status FaultInjectionEnv::RecordSynced(const std::string& path) {
  std::string data;
  TANDEM_RETURN_IF_ERROR(base_->ReadFileToString(path, &data));
  synced_[path] = std::move(data);
  return Status::Ok();
}

Status FaultInjectionEnv::RevertToSynced(const std::string& path) {
  auto it = synced_.find(path);
  if (it == synced_.end()) return Status::Ok();
  if (!it->second.has_value()) return base_->TruncateFile(path, 0);
  auto file = base_->OpenFile(path, OpenMode::kCreateTruncate);
  if (!file.ok()) return file.status();
  return (*file)->WriteAt(0, *it->second);
}

Result<std::unique_ptr<File>> FaultInjectionEnv::OpenFile(const std::string& path, OpenMode mode) {
  std::lock_guard lock(mu_);
  bool writable = mode != OpenMode::kReadOnly;
  if (writable) Track(path);
  if (mode == OpenMode::kCreateTruncate || mode == OpenMode::kCreate) {
    ++write_calls_;
    if (int err = NextFault(&write_fault_)) {
      return Status::FromErrno("open " + path + " (injected)", err);
    }
  }
  auto base = base_->OpenFile(path, mode);
  if (!base.ok()) return base.status();
  return std::unique_ptr<File>(
      std::make_unique<FaultInjectionFile>(this, std::move(*base), writable));
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  Track(from);
  TANDEM_RETURN_IF_ERROR(base_->RenameFile(from, to));
  synced_[to] = std::move(synced_[from]);
  synced_.erase(from);
  return Status::Ok();
}

void FaultInjectionEnv::HoldDeletes(bool hold) {
  {
    std::lock_guard lock(hold_mu_);
    hold_deletes_ = hold;
  }
  hold_cv_.notify_all();
}

void FaultInjectionEnv::HoldWrites(bool hold) {
  {
    std::lock_guard lock(hold_mu_);
    hold_writes_ = hold;
  }
  hold_cv_.notify_all();
}

void FaultInjectionEnv::WaitWhileWritesHeld() {
  std::unique_lock hold(hold_mu_);
  if (!hold_writes_) return;
  ++held_writes_;
  hold_cv_.wait(hold, [this] { return !hold_writes_; });
  --held_writes_;
}

void FaultInjectionEnv::FailDeletes(int err, int count) {
  std::lock_guard lock(hold_mu_);
  delete_fault_ = err;
  delete_faults_left_ = count;
}

Status FaultInjectionEnv::DeleteFile(const std::string& path) {
  {
    std::unique_lock hold(hold_mu_);
    hold_cv_.wait(hold, [this] { return !hold_deletes_; });
    if (delete_fault_ != 0 && delete_faults_left_ != 0) {
      if (delete_faults_left_ > 0) --delete_faults_left_;
      return Status::FromErrno("unlink " + path + " (injected)", delete_fault_);
    }
  }
  std::lock_guard lock(mu_);
  TANDEM_RETURN_IF_ERROR(base_->DeleteFile(path));
  synced_.erase(path);
  deleted_.push_back(path);
  return Status::Ok();
}

Status FaultInjectionEnv::TruncateFile(const std::string& path, uint64_t size) {
  std::lock_guard lock(mu_);
  Track(path);
  ++write_calls_;
  if (int err = NextFault(&write_fault_)) {
    return Status::FromErrno("truncate " + path + " (injected)", err);
  }
  return base_->TruncateFile(path, size);
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  std::lock_guard lock(mu_);
  ++sync_calls_;
  if (int err = NextFault(&sync_fault_)) {
    return Status::FromErrno("fsync dir " + dir + " (injected)", err);
  }
  return base_->SyncDir(dir);
}

Status FaultInjectionEnv::SimulateCrash() {
  std::lock_guard lock(mu_);
  for (auto& [path, contents] : synced_) {
    if (contents.has_value()) {
      auto file = base_->OpenFile(path, OpenMode::kCreateTruncate);
      if (!file.ok()) return file.status();
      TANDEM_RETURN_IF_ERROR((*file)->WriteAt(0, *contents));
    } else if (base_->FileExists(path)) {
      TANDEM_RETURN_IF_ERROR(base_->DeleteFile(path));
    }
  }
  synced_.clear();
  ClearFaults();
  return Status::Ok();
}

}  // namespace tandem
