// TempDir: a fresh directory under /tmp for one test (or fixture), removed
// with everything in it when the object goes away. Declare it before any
// member that keeps files in it open.
#pragma once

#include <stdlib.h>  // mkdtemp

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace tandem::testing {

class TempDir {
 public:
  // Creates /tmp/<prefix>_XXXXXX; throws if it cannot (the test then fails).
  explicit TempDir(const std::string& prefix) : path_("/tmp/" + prefix + "_XXXXXX") {
    if (::mkdtemp(path_.data()) == nullptr) throw std::runtime_error("mkdtemp " + path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace tandem::testing
