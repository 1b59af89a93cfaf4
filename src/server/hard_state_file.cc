#include "server/hard_state_file.h"

#include <cstring>

#include "util/checksum.h"
#include "util/coding.h"

namespace tandem::server {
namespace {
constexpr char kMagic[8] = {'T', 'N', 'D', 'M', 'H', 'S', '0', '1'};
constexpr size_t kSize = 8 + 8 + 8 + 4;
}  // namespace

Result<replication::HardState> HardStateFile::Load() {
  if (!env_->FileExists(path())) return replication::HardState{};
  auto file = env_->OpenFile(path(), OpenMode::kReadOnly);
  if (!file.ok()) return file.status();
  char buf[kSize];
  auto n = (*file)->ReadAt(0, kSize, buf);
  if (!n.ok()) return n.status();
  if (*n != kSize || std::memcmp(buf, kMagic, 8) != 0 ||
      DecodeFixed32(buf + 24) != Checksum32(std::string_view(buf, 24))) {
    return Status::Corruption(path() + " is damaged: the node's term and vote are unknown");
  }
  replication::HardState hs;
  hs.term = DecodeFixed64(buf + 8);
  hs.vote = DecodeFixed64(buf + 16);
  return hs;
}

Status HardStateFile::Save(const replication::HardState& state) {
  std::string data(kMagic, 8);
  PutFixed64(&data, state.term);
  PutFixed64(&data, state.vote);
  PutFixed32(&data, Checksum32(data));
  std::string tmp = path() + ".tmp";
  auto file = env_->OpenFile(tmp, OpenMode::kCreateTruncate);
  if (!file.ok()) return file.status();
  TANDEM_RETURN_IF_ERROR((*file)->WriteAt(0, data));
  TANDEM_RETURN_IF_ERROR((*file)->Sync());
  TANDEM_RETURN_IF_ERROR(env_->RenameFile(tmp, path()));
  return env_->SyncDir(dir_);
}

}  // namespace tandem::server
