// thread_pool.h — one persistent pool of native threads for the whole process (no OpenMP).
// run(nth, fn) calls fn(ith, nth) for ith = 0..nth-1, ith 0 on the calling thread, and returns
// when all are done. Calls from different threads (main, async workers, worker_threads) are
// serialised, so each job gets the whole pool.
#pragma once
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kan {

class ThreadPool {
 public:
  static ThreadPool& instance();
  int size();                 // threads a job may use, including the caller
  void resize(int n);         // 1..256
  void run(int nth, const std::function<void(int, int)>& fn);
  ~ThreadPool();

 private:
  ThreadPool();
  void start(int n);
  void stop();
  void worker(int id, unsigned long seen);

  std::mutex run_mu_;   // serialises jobs and resizes
  std::mutex mu_;
  std::condition_variable cv_work_, cv_done_;
  std::vector<std::thread> threads_;
  const std::function<void(int, int)>* job_ = nullptr;
  int job_nth_ = 0;
  unsigned long generation_ = 0;
  int pending_ = 0;
  bool quit_ = false;
  int size_ = 1;
};

// Split [0, n) into nth contiguous ranges; range ith is [*lo, *hi).
inline void split_range(long n, int ith, int nth, long* lo, long* hi) {
  *lo = n * ith / nth;
  *hi = n * (ith + 1) / nth;
}

}  // namespace kan
