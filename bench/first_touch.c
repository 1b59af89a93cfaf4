// first_touch: what touching memory costs the first time, on this machine.
//
//   cc -O2 -o /tmp/first_touch bench/first_touch.c
//   /tmp/first_touch 1000 0    # 1000 MiB, 4 KiB pages
//   /tmp/first_touch 1000 1    # 1000 MiB, madvise(MADV_HUGEPAGE)
//
// Three rounds in one process: map anonymous memory, write every byte
// (the first touch: page faults, and on a VM whatever the host does to
// back memory), write every byte again (touched memory), unmap. Prints
// MB/s for both writes per round. docs/benchmarks.md, eighth session.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s MiB huge(0|1)\n", argv[0]);
    return 2;
  }
  char* end = NULL;
  unsigned long mib = strtoul(argv[1], &end, 10);
  if (*end != '\0' || mib == 0 || mib > (1ul << 20)) {
    fprintf(stderr, "MiB must be a whole number from 1 to %lu\n", 1ul << 20);
    return 2;
  }
  size_t bytes = (size_t)mib << 20;
  int huge = atoi(argv[2]) != 0;
  for (int round = 1; round <= 3; ++round) {
    char* p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      perror("mmap");
      return 1;
    }
    // Ask either way, so that the system's THP mode does not decide.
    if (madvise(p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0) perror("madvise");
    double t0 = now_seconds();
    memset(p, 1, bytes);
    double t1 = now_seconds();
    memset(p, 2, bytes);
    double t2 = now_seconds();
    // Read back, so neither memset can be dropped as a dead store.
    volatile char sink = p[bytes / 2];
    (void)sink;
    printf("round %d (%s pages): first touch %.0f MB/s, touched again %.0f MB/s\n", round,
           huge ? "huge" : "4 KiB", (double)bytes / 1e6 / (t1 - t0),
           (double)bytes / 1e6 / (t2 - t1));
    munmap(p, bytes);
  }
  return 0;
}
