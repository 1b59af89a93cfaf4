// Built twice: allocator_test (glibc's malloc) and, when tandemd links
// jemalloc, allocator_jemalloc_test (linked with it, TANDEM_EXPECT_JEMALLOC
// defined), so both paths of util/allocator.cc run.
#include "util/allocator.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define TANDEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TANDEM_ASAN 1
#endif
#endif

#if defined(TANDEM_EXPECT_JEMALLOC)
// As tandemd: jemalloc asks for huge pages (util/allocator.h).
extern "C" {
const char* malloc_conf = tandem::kTandemJemallocConf;
}
#endif

// One suite name per binary: ctest names tests by suite and test.
#if defined(TANDEM_EXPECT_JEMALLOC)
#define ALLOCATOR_TEST(name) TEST(JemallocAllocatorTest, name)
#else
#define ALLOCATOR_TEST(name) TEST(LibcAllocatorTest, name)
#endif

namespace tandem {
namespace {

constexpr size_t kMiB = 1024 * 1024;

ALLOCATOR_TEST(NamesTheLinkedAllocator) {
#if defined(TANDEM_EXPECT_JEMALLOC)
  EXPECT_EQ(AllocatorName().rfind("jemalloc-", 0), 0u) << AllocatorName();
#else
  EXPECT_EQ(AllocatorName(), "libc");
#endif
}

ALLOCATOR_TEST(AllocatedBytesFollowsAllocations) {
#if defined(TANDEM_ASAN)
  GTEST_SKIP() << "AddressSanitizer replaces malloc and its statistics";
#endif
  size_t before = AllocatedBytes();
  auto block = std::make_unique<char[]>(64 * kMiB);
  std::memset(block.get(), 1, 64 * kMiB);
  size_t during = AllocatedBytes();
  EXPECT_GE(during, before + 63 * kMiB);
  block.reset();
  EXPECT_LE(AllocatedBytes(), during - 63 * kMiB);
}

ALLOCATOR_TEST(ReleaseReturnsMemoryFreedInTheMiddleOfTheHeap) {
#if defined(TANDEM_ASAN)
  GTEST_SKIP() << "AddressSanitizer keeps freed memory in quarantine";
#endif
  // 64 MiB of small blocks, then one more that stays: the freed memory is
  // below a live block, where neither allocator returns it by itself at once.
  std::vector<std::unique_ptr<char[]>> blocks;
  for (size_t i = 0; i < 64 * kMiB / 1000; ++i) {
    blocks.emplace_back(new char[1000]);
    std::memset(blocks.back().get(), 1, 1000);
  }
  auto live = std::make_unique<char[]>(1000);
  std::memset(live.get(), 1, 1000);
  blocks.clear();
  FreeMemoryReport r = ReleaseFreeHeapMemory();
  ASSERT_GT(r.rss_before, 0);
  EXPECT_LE(r.rss_after, r.rss_before - static_cast<int64_t>(32 * kMiB))
      << "before " << r.rss_before << " after " << r.rss_after;
  EXPECT_GE(r.millis, 0.0);
}

ALLOCATOR_TEST(ProcessRssBytesSeesTouchedMemory) {
  size_t before = ProcessRssBytes();
  ASSERT_GT(before, 0u);
  auto block = std::make_unique<char[]>(32 * kMiB);
  std::memset(block.get(), 1, 32 * kMiB);
  EXPECT_GE(ProcessRssBytes(), before + 31 * kMiB);
}

ALLOCATOR_TEST(HugePagesOnlyWhileEnabled) {
  std::string state = TransparentHugePagesState();
  if (state == "unavailable") GTEST_SKIP() << "this system's THP mode is never";
#if defined(TANDEM_EXPECT_JEMALLOC) && !defined(TANDEM_ASAN)
  // The heap asks for huge pages: 64 MiB touched gets some.
  EXPECT_EQ(state, "on");
  size_t huge_before = AnonHugePageBytes();
  auto block = std::make_unique<char[]>(64 * kMiB);
  std::memset(block.get(), 1, 64 * kMiB);
  EXPECT_GE(AnonHugePageBytes(), huge_before + 2 * kMiB);
#endif
  ASSERT_TRUE(SetTransparentHugePages(false));
  EXPECT_EQ(TransparentHugePagesState(), "off");
  // No new huge page for memory touched from now on.
  size_t huge_after_disable = AnonHugePageBytes();
  auto more = std::make_unique<char[]>(64 * kMiB);
  std::memset(more.get(), 1, 64 * kMiB);
  EXPECT_LE(AnonHugePageBytes(), huge_after_disable);
  ASSERT_TRUE(SetTransparentHugePages(true));
  EXPECT_EQ(TransparentHugePagesState(), state);
}

}  // namespace
}  // namespace tandem
