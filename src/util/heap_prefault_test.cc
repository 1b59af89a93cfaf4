// Built twice, as allocator_test: heap_prefault_test (glibc's malloc: the
// install must refuse) and, when tandemd links jemalloc,
// heap_prefault_jemalloc_test (linked with it, TANDEM_EXPECT_JEMALLOC).
// Every test of the jemalloc build shares one install (once per process).
#include "util/heap_prefault.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "util/allocator.h"

namespace tandem {
namespace {

constexpr size_t kMiB = 1024 * 1024;

#if defined(TANDEM_EXPECT_JEMALLOC)

}  // namespace
}  // namespace tandem

// As tandemd: jemalloc asks for huge pages (util/allocator.h), so the range
// does too.
extern "C" {
const char* malloc_conf = tandem::kTandemJemallocConf;
}

namespace tandem {
namespace {

// The process-wide install, done by the first test that needs it. A
// kernel or policy that rules it out skips (the server then runs without).
const std::string& InstallResult() {
  static const std::string why = InstallHeapPrefault();
  return why;
}

#define INSTALL_OR_SKIP()                                                      \
  do {                                                                         \
    const std::string& why = InstallResult();                                  \
    if (why.find("MADV_POPULATE_WRITE") != std::string::npos ||                \
        why.find("overcommit") != std::string::npos) {                         \
      GTEST_SKIP() << why;                                                     \
    }                                                                          \
    ASSERT_EQ(why, "");                                                        \
    ASSERT_TRUE(GetHeapPrefaultStats().active);                                \
  } while (0)

// 1000-byte blocks, each filled with a pattern of its number.
std::vector<char*> AllocateBlocks(size_t count, size_t first_number) {
  std::vector<char*> blocks;
  blocks.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    char* b = static_cast<char*>(malloc(1000));
    std::memset(b, static_cast<int>((first_number + i) % 251), 1000);
    blocks.push_back(b);
  }
  return blocks;
}

void ExpectBlocksIntact(const std::vector<char*>& blocks, size_t first_number) {
  for (size_t i = 0; i < blocks.size(); ++i) {
    char want = static_cast<char>((first_number + i) % 251);
    for (size_t j = 0; j < 1000; j += 97) {
      ASSERT_EQ(blocks[i][j], want) << "block " << i << " byte " << j;
    }
  }
}

void FreeBlocks(std::vector<char*>* blocks) {
  for (char* b : *blocks) free(b);
  blocks->clear();
}

long ThreadMinorFaults() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}

template <typename F>
bool WaitFor(F done, std::chrono::seconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// First: later tests leave freed, already faulted memory for jemalloc to
// reuse, which would need no help.
TEST(HeapPrefaultJemallocTest, TheHelperFaultsInMemoryBeforeItsUse) {
  INSTALL_OR_SKIP();
  // Huge pages would hide the faults this counts (one per 2 MiB anyway).
  ASSERT_TRUE(SetTransparentHugePages(false));
  std::vector<char*> kept;
  // Grow steadily until the helper keeps a lead of at least 8 MiB.
  bool lead = WaitFor(
      [&] {
        auto more = AllocateBlocks(1024, kept.size());
        kept.insert(kept.end(), more.begin(), more.end());
        return GetHeapPrefaultStats().lead_bytes >= 8 * kMiB;
      },
      std::chrono::seconds(20));
  ASSERT_TRUE(lead) << "no lead after " << kept.size() << " KB allocated";
  size_t lead_bytes = GetHeapPrefaultStats().lead_bytes;
  // Use about half of the lead: pages the helper populated and read.
  long faults_before = ThreadMinorFaults();
  std::vector<char*> blocks = AllocateBlocks(lead_bytes / 2 / 1024, 0);
  long faults = ThreadMinorFaults() - faults_before;
  // Without the helper: one fault per 4 KiB page, over 1000 here.
  EXPECT_LT(faults, static_cast<long>(lead_bytes / 2 / 4096 / 8))
      << "faults for " << lead_bytes / 2 / kMiB << " MiB";
  EXPECT_GT(GetHeapPrefaultStats().populated_bytes, lead_bytes);
  ExpectBlocksIntact(blocks, 0);
  ExpectBlocksIntact(kept, 0);
  FreeBlocks(&blocks);
  FreeBlocks(&kept);
  SetTransparentHugePages(true);
}

TEST(HeapPrefaultJemallocTest, InstallsOnceAndNewExtentsComeFromTheRange) {
  INSTALL_OR_SKIP();
  EXPECT_EQ(InstallHeapPrefault(), "already installed");
  size_t carved_before = GetHeapPrefaultStats().carved_bytes;
  std::vector<char*> blocks = AllocateBlocks(64 * 1024, 0);  // 64 MiB
  EXPECT_GT(GetHeapPrefaultStats().carved_bytes, carved_before);
  size_t in_range = 0;
  for (char* b : blocks) in_range += InHeapPrefaultRange(b) ? 1 : 0;
  // All but what the arenas held before the install.
  EXPECT_GE(in_range, blocks.size() * 9 / 10) << "the arenas grew without the hooks";
  ExpectBlocksIntact(blocks, 0);
  FreeBlocks(&blocks);
}

// The VmFlags of every mapping of /proc/self/smaps that starts inside the
// range, in address order.
std::vector<std::string> RangeMappingFlags() {
  std::ifstream smaps("/proc/self/smaps");
  std::vector<std::string> flags;
  std::string line;
  bool in_range = false;
  while (std::getline(smaps, line)) {
    if (line.rfind("VmFlags:", 0) == 0) {
      if (in_range) flags.push_back(line);
      continue;
    }
    size_t dash = line.find('-');
    if (dash == std::string::npos || line.find(' ') < dash) continue;
    char* end = nullptr;
    uintptr_t start = std::strtoull(line.substr(0, dash).c_str(), &end, 16);
    if (end == nullptr || *end != '\0') continue;  // a field line, not a mapping
    in_range = InHeapPrefaultRange(reinterpret_cast<void*>(start));
  }
  return flags;
}

bool HasFlag(const std::string& vmflags, const std::string& flag) {
  std::istringstream words(vmflags);
  std::string w;
  while (words >> w) {
    if (w == flag) return true;
  }
  return false;
}

TEST(HeapPrefaultJemallocTest, TheArenasFirstBlocksDoNotAskForHugePages) {
  INSTALL_OR_SKIP();
  if (!std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled")) {
    GTEST_SKIP() << "no transparent huge pages in this kernel";
  }
  std::vector<std::string> flags = RangeMappingFlags();
  ASSERT_GE(flags.size(), 2u) << "the range is one mapping: nothing was split off";
  // The arenas' first metadata blocks (carved at install), then the heap.
  EXPECT_TRUE(HasFlag(flags.front(), "nh")) << flags.front();
  EXPECT_FALSE(HasFlag(flags.front(), "hg")) << flags.front();
  EXPECT_TRUE(HasFlag(flags.back(), "hg")) << flags.back();
}

TEST(HeapPrefaultJemallocTest, PurgingFreedMemoryKeepsLiveBlocks) {
  INSTALL_OR_SKIP();
  std::vector<char*> live = AllocateBlocks(16 * 1024, 7);
  std::vector<char*> dropped = AllocateBlocks(32 * 1024, 0);
  FreeBlocks(&dropped);
  ReleaseFreeHeapMemory();  // purges every arena: the hooks' purge paths
  ExpectBlocksIntact(live, 7);
  std::vector<char*> again = AllocateBlocks(32 * 1024, 3);
  ExpectBlocksIntact(again, 3);
  ExpectBlocksIntact(live, 7);
  FreeBlocks(&again);
  FreeBlocks(&live);
}

TEST(HeapPrefaultJemallocTest, GivesBackTheUnusedLeadAfterIdleTime) {
  INSTALL_OR_SKIP();
  // Grow until there is a lead, then stop growing.
  std::vector<char*> blocks;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto more = AllocateBlocks(1024, blocks.size());
        blocks.insert(blocks.end(), more.begin(), more.end());
        return GetHeapPrefaultStats().lead_bytes >= 4 * kMiB;
      },
      std::chrono::seconds(20)));
  size_t released_before = GetHeapPrefaultStats().released_bytes;
  // 10 s after the last growth (jemalloc's own upkeep may still carve a
  // little, which starts the 10 s again).
  ASSERT_TRUE(WaitFor(
      [&] { return GetHeapPrefaultStats().released_bytes > released_before; },
      std::chrono::seconds(40)));
  EXPECT_EQ(GetHeapPrefaultStats().lead_bytes, 0u);
  ExpectBlocksIntact(blocks, 0);
  // Growth after the release (from the given-back pages, zero again).
  std::vector<char*> more = AllocateBlocks(16 * 1024, 5);
  ExpectBlocksIntact(more, 5);
  ExpectBlocksIntact(blocks, 0);
  FreeBlocks(&more);
  FreeBlocks(&blocks);
}

#else

TEST(HeapPrefaultLibcTest, RefusesWithoutJemalloc) {
  EXPECT_EQ(InstallHeapPrefault(), "jemalloc is not linked");
  EXPECT_FALSE(GetHeapPrefaultStats().active);
  EXPECT_FALSE(InHeapPrefaultRange(&kMiB));
}

#endif

}  // namespace
}  // namespace tandem
