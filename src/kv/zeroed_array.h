// ZeroedArray<T>: a fixed-size, zero-filled array of a trivial type whose
// pages are faulted in lazily, as they are first written.
//
// Why: a large table's new slot array is written zeros by operator new[]()
// (or by calloc, when glibc takes it from the heap), so every page faults
// at allocation time. Page faults are not free (about 27 us each on the
// VMs this runs on: ~200 ms for a 32 MB array), and doing them all at once
// is a stall of the event loop. Arrays of at least kMapBytes are therefore
// mapped straight from the kernel (anonymous mmap: zero pages on first
// touch, returned with munmap). Smaller ones use calloc: its zero-filling
// stalls at most ~1024 faults (~27 ms here), and reusing pages glibc already
// holds keeps the frequent small resizes cheaper (mmap'ing 1-2 MiB arrays
// too cost SETs into a 200k-key table ~80% in keyspace_bench).
//
// Memory is the same as calloc's: untouched pages cost nothing in either.
// A fork (the background snapshot) shares the pages copy-on-write as usual.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <utility>

namespace tandem::kv {

template <typename T>
class ZeroedArray {
  static_assert(std::is_trivial_v<T>, "zero bytes must be a valid T");

 public:
  static constexpr size_t kMapBytes = size_t{4} << 20;

  ZeroedArray() = default;
  // n elements, all zero. Throws std::bad_alloc.
  explicit ZeroedArray(size_t n) : size_(n) {
    if (n == 0) return;
    if (bytes() >= kMapBytes) {
      void* p = mmap(nullptr, bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      data_ = static_cast<T*>(p);
    } else {
      data_ = static_cast<T*>(std::calloc(n, sizeof(T)));
      if (data_ == nullptr) throw std::bad_alloc();
    }
  }
  ZeroedArray(const ZeroedArray&) = delete;
  ZeroedArray& operator=(const ZeroedArray&) = delete;
  ZeroedArray(ZeroedArray&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  ZeroedArray& operator=(ZeroedArray&& o) noexcept {
    if (this != &o) {
      Release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~ZeroedArray() { Release(); }

  size_t size() const { return size_; }
  T* data() const { return data_; }
  T& operator[](size_t i) const { return data_[i]; }

 private:
  size_t bytes() const { return size_ * sizeof(T); }

  void Release() {
    if (data_ == nullptr) return;
    if (bytes() >= kMapBytes) {
      munmap(data_, bytes());
    } else {
      std::free(data_);
    }
    data_ = nullptr;
    size_ = 0;
  }

  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace tandem::kv
