#include "util/env.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "util/testing/temp_dir.h"

namespace tandem {
namespace {

class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = tmp_.path(); }

  std::string ReadAll(Env* env, const std::string& path) {
    std::string out;
    EXPECT_TRUE(env->ReadFileToString(path, &out).ok());
    return out;
  }

  testing::TempDir tmp_{"tandem_env_test"};
  std::string dir_;
};

TEST_F(EnvTest, WriteReadTruncateRoundTrip) {
  Env* env = Env::Default();
  std::string path = JoinPath(dir_, "f");
  auto file = env->OpenFile(path, OpenMode::kCreateTruncate);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_TRUE((*file)->Append("hello ").ok());
  ASSERT_TRUE((*file)->Append("world").ok());
  ASSERT_TRUE((*file)->WriteAt(0, "J").ok());
  ASSERT_TRUE((*file)->Sync().ok());
  EXPECT_EQ(*(*file)->Size(), 11u);
  char buf[32];
  auto n = (*file)->ReadAt(6, sizeof(buf), buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "world");
  ASSERT_TRUE((*file)->Truncate(5).ok());
  ASSERT_TRUE((*file)->Append("!").ok());
  file->reset();
  EXPECT_EQ(ReadAll(env, path), "Jello!");
  EXPECT_EQ(*env->FileSize(path), 6u);
}

TEST_F(EnvTest, MissingFilesAreNotFound) {
  Env* env = Env::Default();
  EXPECT_TRUE(env->OpenFile(JoinPath(dir_, "nope"), OpenMode::kReadOnly).status().IsNotFound());
  EXPECT_TRUE(env->DeleteFile(JoinPath(dir_, "nope")).IsNotFound());
  EXPECT_TRUE(env->FileSize(JoinPath(dir_, "nope")).status().IsNotFound());
  EXPECT_TRUE(env->ListDir(JoinPath(dir_, "nodir")).status().IsNotFound());
  EXPECT_FALSE(env->FileExists(JoinPath(dir_, "nope")));
}

TEST_F(EnvTest, DirsRenameListAndFreeSpace) {
  Env* env = Env::Default();
  std::string sub = JoinPath(dir_, "a/b/c");
  ASSERT_TRUE(env->CreateDirs(sub).ok());
  ASSERT_TRUE(env->CreateDirs(sub).ok());  // idempotent
  {
    auto f = env->OpenFile(JoinPath(sub, "x.tmp"), OpenMode::kCreate);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("data").ok());
  }
  ASSERT_TRUE(env->RenameFile(JoinPath(sub, "x.tmp"), JoinPath(sub, "x")).ok());
  ASSERT_TRUE(env->SyncDir(sub).ok());
  auto names = env->ListDir(sub);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"x"});
  EXPECT_GT(*env->FreeBytes(dir_), 0u);
  EXPECT_FALSE(env->CreateDirs(JoinPath(sub, "x")).ok());  // a file, not a dir
}

TEST_F(EnvTest, InjectedWriteErrorThenRecovery) {
  FaultInjectionEnv env(Env::Default());
  std::string path = JoinPath(dir_, "f");
  auto file = env.OpenFile(path, OpenMode::kCreateTruncate);
  ASSERT_TRUE(file.ok());
  env.FailWrites(ENOSPC, /*after_ok=*/1, /*short_write=*/true);
  ASSERT_TRUE((*file)->WriteAt(0, "ok").ok());
  Status st = (*file)->WriteAt(2, "abcdef");
  EXPECT_TRUE(st.IsNoSpace()) << st.ToString();
  EXPECT_EQ(ReadAll(&env, path), "okabc");  // short write left half the bytes
  EXPECT_TRUE((*file)->Truncate(2).IsNoSpace());
  env.ClearFaults();
  ASSERT_TRUE((*file)->WriteAt(2, "abcdef").ok());
  EXPECT_EQ(ReadAll(&env, path), "okabcdef");
  EXPECT_EQ(env.write_calls(), 5);  // the create counts as a write
}

TEST_F(EnvTest, InjectedSyncErrorIsIOError) {
  FaultInjectionEnv env(Env::Default());
  auto file = env.OpenFile(JoinPath(dir_, "f"), OpenMode::kCreateTruncate);
  ASSERT_TRUE(file.ok());
  env.FailSyncs(EIO);
  Status st = (*file)->Sync();
  EXPECT_EQ(st.code(), Status::Code::kIOError);
  EXPECT_FALSE(env.SyncDir(dir_).ok());
  env.ClearFaults();
  EXPECT_TRUE((*file)->Sync().ok());
}

TEST_F(EnvTest, CrashDropsUnsyncedDataAndUnsyncedFiles) {
  Env* base = Env::Default();
  std::string old_path = JoinPath(dir_, "old");
  {
    auto f = base->OpenFile(old_path, OpenMode::kCreateTruncate);
    ASSERT_TRUE((*f)->Append("preexisting").ok());
  }
  FaultInjectionEnv env(base);
  {
    auto synced = env.OpenFile(JoinPath(dir_, "synced"), OpenMode::kCreateTruncate);
    ASSERT_TRUE((*synced)->Append("durable").ok());
    ASSERT_TRUE((*synced)->DataSync().ok());
    ASSERT_TRUE((*synced)->Append("-lost").ok());
    auto never = env.OpenFile(JoinPath(dir_, "never"), OpenMode::kCreateTruncate);
    ASSERT_TRUE((*never)->Append("gone").ok());
    auto old = env.OpenFile(old_path, OpenMode::kReadWrite);
    ASSERT_TRUE((*old)->Truncate(3).ok());
  }
  EXPECT_EQ(ReadAll(&env, JoinPath(dir_, "synced")), "durable-lost");
  ASSERT_TRUE(env.SimulateCrash().ok());
  EXPECT_EQ(ReadAll(&env, JoinPath(dir_, "synced")), "durable");
  EXPECT_FALSE(env.FileExists(JoinPath(dir_, "never")));
  EXPECT_EQ(ReadAll(&env, old_path), "preexisting");
}

TEST_F(EnvTest, FailedSyncCanDropDirtyPages) {
  FaultInjectionEnv env(Env::Default());
  std::string path = JoinPath(dir_, "f");
  auto file = env.OpenFile(path, OpenMode::kCreateTruncate);
  ASSERT_TRUE((*file)->Append("abc").ok());
  ASSERT_TRUE((*file)->Sync().ok());
  ASSERT_TRUE((*file)->Append("def").ok());
  env.FailSyncs(EIO, 0, /*drop_unsynced=*/true);
  EXPECT_FALSE((*file)->Sync().ok());
  EXPECT_EQ(ReadAll(&env, path), "abc");
}

TEST_F(EnvTest, RenameCarriesSyncedState) {
  FaultInjectionEnv env(Env::Default());
  std::string tmp = JoinPath(dir_, "a.tmp"), final_path = JoinPath(dir_, "a");
  {
    auto f = env.OpenFile(tmp, OpenMode::kCreateTruncate);
    ASSERT_TRUE((*f)->Append("snap").ok());
    ASSERT_TRUE((*f)->Sync().ok());
  }
  ASSERT_TRUE(env.RenameFile(tmp, final_path).ok());
  ASSERT_TRUE(env.SimulateCrash().ok());
  EXPECT_EQ(ReadAll(&env, final_path), "snap");
  EXPECT_FALSE(env.FileExists(tmp));
}

}  // namespace
}  // namespace tandem
