// pool_stress.cc — the thread pool under ThreadSanitizer (scripts/sanitize.sh builds and runs it).
//
//   pool_stress [JOBS]   (default 4000 per caller)
//
// Two caller threads submit jobs of 1..4 threads with uneven work, now and then after a pause
// longer than the workers' polling (so they go to sleep and must be woken), while one caller
// resizes the pool between jobs. Checks: every part ith < n of a job runs exactly once, on a
// job's own data, and run() returns only after all its parts are done. With KAN_SPIN_US=0 the
// workers sleep after every job (the condition-variable path alone). Exit status 1 on an error;
// ThreadSanitizer reports races itself.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "../kernels/thread_pool.h"

int main(int argc, char** argv) {
  const int jobs = argc > 1 ? std::atoi(argv[1]) : 4000;
  kan::ThreadPool& pool = kan::ThreadPool::instance();
  std::atomic<long> errors{0}, parts{0};
  auto caller = [&](unsigned seed, bool resizes) {
    unsigned r = seed;
    for (int j = 0; j < jobs; ++j) {
      r = r * 1103515245u + 12345u;
      const int want = 1 + (int)((r >> 16) % 4);
      const int spin = (int)((r >> 8) % 3000);
      std::vector<int> hits(8, 0);   // written by the parts, read after run() returns
      std::atomic<int> seen_n{0};
      pool.run(want, [&](int ith, int n) {
        if (ith < 0 || ith >= n || n > 8) { ++errors; return; }
        seen_n.store(n);
        volatile long s = 0;
        for (int q = 0; q < spin * (ith + 1); ++q) s += q;  // uneven parts
        hits[ith]++;
        ++parts;
      });
      const int n = seen_n.load();
      if (n < 1 || n > want) ++errors;
      for (int q = 0; q < 8; ++q)
        if (hits[q] != (q < n ? 1 : 0)) ++errors;
      if (resizes && j % 1000 == 999) pool.resize(1 + (j / 1000) % 3);
      if ((r >> 20) % 61 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  };
  std::thread other(caller, 7u, false);
  caller(1u, true);
  other.join();
  std::printf("pool_stress: %d jobs x 2 callers, %ld parts run, %ld errors\n", jobs, parts.load(), errors.load());
  return errors.load() == 0 ? 0 : 1;
}
