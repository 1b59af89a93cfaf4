#include "util/background_file_deleter.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "util/testing/temp_dir.h"

namespace tandem {
namespace {

class BackgroundFileDeleterTest : public ::testing::Test {
 protected:
  std::string MakeFile(const std::string& name) {
    std::string path = dir_.path() + "/" + name;
    auto f = env_.OpenFile(path, OpenMode::kCreateTruncate);
    EXPECT_TRUE(f.ok());
    if (f.ok()) {
      EXPECT_TRUE((*f)->Append("data").ok());
    }
    return path;
  }

  testing::TempDir dir_{"tandem_deleter"};
  FaultInjectionEnv env_{Env::Default()};
};

TEST_F(BackgroundFileDeleterTest, DeletesWithoutMakingTheCallerWait) {
  std::vector<std::string> paths = {MakeFile("a"), MakeFile("b"), MakeFile("c")};
  BackgroundFileDeleter deleter(&env_);
  env_.HoldDeletes(true);  // the file system is slow
  for (const auto& p : paths) deleter.Delete(p);
  EXPECT_GE(deleter.pending(), 1u);  // Delete returned while none could finish
  EXPECT_TRUE(env_.FileExists(paths.back()));
  env_.HoldDeletes(false);
  ASSERT_TRUE(deleter.Drain().ok());
  EXPECT_EQ(deleter.pending(), 0u);
  for (const auto& p : paths) EXPECT_FALSE(env_.FileExists(p)) << p;
}

TEST_F(BackgroundFileDeleterTest, DeletesInTheOrderQueued) {
  std::vector<std::string> paths;
  for (int i = 0; i < 20; ++i) paths.push_back(MakeFile("f" + std::to_string(i)));
  BackgroundFileDeleter deleter(&env_);
  for (const auto& p : paths) deleter.Delete(p);
  ASSERT_TRUE(deleter.Drain().ok());
  EXPECT_EQ(env_.deleted_files(), paths);
}

TEST_F(BackgroundFileDeleterTest, AFailureStopsTheQueueUntilRetried) {
  // Deleting what comes after a file that could not be deleted would leave
  // a gap in a log; the failure is reported once.
  std::vector<std::string> paths = {MakeFile("a"), MakeFile("b"), MakeFile("c")};
  BackgroundFileDeleter deleter(&env_);
  deleter.Delete(dir_.path() + "/never-existed");  // already gone: not a failure
  ASSERT_TRUE(deleter.Drain().ok());
  env_.FailDeletes(EIO, /*count=*/1);  // only the first attempt fails
  // Every file queued before the worker tries the first: a Delete after the
  // failure would resume the queue (as it is meant to).
  env_.HoldDeletes(true);
  for (const auto& p : paths) deleter.Delete(p);
  env_.HoldDeletes(false);
  Status st = deleter.Drain();
  EXPECT_EQ(st.code(), Status::Code::kIOError) << st.ToString();
  EXPECT_EQ(deleter.pending(), 3u);
  for (const auto& p : paths) EXPECT_TRUE(env_.FileExists(p)) << p;
  EXPECT_TRUE(deleter.TakeFailure().ok());  // reported once
  deleter.Retry();                          // from the failed one
  EXPECT_TRUE(deleter.Drain().ok());
  EXPECT_EQ(deleter.pending(), 0u);
  EXPECT_EQ(env_.deleted_files(), paths);
}

TEST_F(BackgroundFileDeleterTest, DestructorFinishesTheQueue) {
  std::vector<std::string> paths = {MakeFile("a"), MakeFile("b")};
  {
    BackgroundFileDeleter deleter(&env_);
    env_.HoldDeletes(true);
    for (const auto& p : paths) deleter.Delete(p);
    env_.HoldDeletes(false);
  }
  for (const auto& p : paths) EXPECT_FALSE(env_.FileExists(p));
}

TEST_F(BackgroundFileDeleterTest, DestructorStopsAtAFailureAsACrashWould) {
  std::vector<std::string> paths = {MakeFile("a"), MakeFile("b")};
  env_.FailDeletes(EIO);
  {
    BackgroundFileDeleter deleter(&env_);
    for (const auto& p : paths) deleter.Delete(p);
  }
  for (const auto& p : paths) EXPECT_TRUE(env_.FileExists(p));
}

}  // namespace
}  // namespace tandem
