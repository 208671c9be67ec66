// thread_pool.h — one persistent pool of native threads for the whole process (no OpenMP).
// run(nth, fn) calls fn(ith, nth) for ith = 0..nth-1, ith 0 on the calling thread, and returns
// when all are done. Calls from different threads (main, async workers, worker_threads) are
// serialised, so each job gets the whole pool.
//
// Hand-over: a worker that finished a job polls for the next one for KAN_SPIN_US microseconds
// (default 50) before sleeping on a condition variable, and the caller polls for the workers'
// completion as long before sleeping; between polls a thread yields its CPU to any other thread
// waiting for it. Waking a sleeping thread through a condition variable and waiting for it costs
// ~15–16 µs per round trip on the 2-vCPU VM this was tuned on (polling: ~1–2 µs), more than a
// small kernel call takes; the polling is bounded so an idle pool sleeps.
#pragma once
#include <atomic>
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
  std::mutex mu_;       // with the condition variables: sleeping and waking only
  std::condition_variable cv_work_, cv_done_;
  std::vector<std::thread> threads_;
  // job_ and job_nth_ are written before generation_ is advanced (release) and read by a worker
  // after it sees the new generation (acquire); every worker counts pending_ down once per job,
  // and run() returns only when it reaches 0, so a job's fields are never rewritten while read.
  const std::function<void(int, int)>* job_ = nullptr;
  int job_nth_ = 0;
  std::atomic<unsigned long> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> quit_{false};
  int size_ = 1;
  long spin_ns_ = 50000;
};

// Split [0, n) into nth contiguous ranges; range ith is [*lo, *hi).
inline void split_range(long n, int ith, int nth, long* lo, long* hi) {
  *lo = n * ith / nth;
  *hi = n * (ith + 1) / nth;
}

}  // namespace kan
