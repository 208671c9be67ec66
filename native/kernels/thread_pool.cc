#include "thread_pool.h"

#include <chrono>
#include <cstdlib>

namespace kan {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Polls `done` until it returns true or `ns` nanoseconds have passed; returns its last value.
// Between polls the thread yields its CPU (sched_yield): when another thread is waiting to run
// there (other processes, more threads than cores) it runs, so polling costs what the CPU would
// otherwise leave idle; a bare spin halved the throughput of two 2-thread processes on 2 cores.
template <typename F>
bool poll_for(long ns, F done) {
  if (ns <= 0) return done();
  const auto t0 = std::chrono::steady_clock::now();
  for (unsigned it = 0;; ++it) {
    if (done()) return true;
    if ((it & 7) == 7 && std::chrono::steady_clock::now() - t0 > std::chrono::nanoseconds(ns)) return done();
    cpu_relax();
    std::this_thread::yield();
  }
}

}  // namespace

ThreadPool& ThreadPool::instance() {
  // Leaked on purpose: joining threads from a static destructor at process exit can deadlock.
  static ThreadPool* pool = new ThreadPool();
  return *pool;
}

ThreadPool::ThreadPool() {
  int n = (int)std::thread::hardware_concurrency();
  if (const char* env = std::getenv("KAN_NUM_THREADS")) {
    int v = std::atoi(env);
    if (v >= 1 && v <= 256) n = v;
  }
  if (n < 1) n = 1;
  if (const char* env = std::getenv("KAN_SPIN_US")) {
    const long v = std::atol(env);
    if (v >= 0 && v <= 1000000) spin_ns_ = v * 1000;
  }
  start(n);
}

ThreadPool::~ThreadPool() { stop(); }

int ThreadPool::size() {
  std::lock_guard<std::mutex> lk(mu_);
  return size_;
}

void ThreadPool::start(int n) {
  quit_.store(false);
  size_ = n;
  // New workers start having 'seen' the current generation, so they wait for the next job.
  const unsigned long gen = generation_.load();
  for (int id = 1; id < n; ++id) threads_.emplace_back(&ThreadPool::worker, this, id, gen);
}

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    quit_.store(true);
  }
  cv_work_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void ThreadPool::resize(int n) {
  if (n < 1) n = 1;
  if (n > 256) n = 256;
  std::lock_guard<std::mutex> run_lk(run_mu_);
  if (n == size_) return;
  stop();
  start(n);
}

void ThreadPool::worker(int id, unsigned long seen) {
  for (;;) {
    auto ready = [&] { return quit_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; };
    if (!poll_for(spin_ns_, ready)) {
      std::unique_lock<std::mutex> lk(mu_);
      cv_work_.wait(lk, ready);
    }
    if (quit_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    const std::function<void(int, int)>* job = job_;
    const int nth = job_nth_;
    if (id < nth) (*job)(id, nth);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // the caller may be asleep on cv_done_: take mu_ so the notify cannot fall between its
      // check of pending_ and its wait
      std::lock_guard<std::mutex> lk(mu_);
      cv_done_.notify_one();
    }
  }
}

void ThreadPool::run(int nth, const std::function<void(int, int)>& fn) {
  // A one-thread job runs on the caller without the lock, so callers on different threads
  // (worker_threads, async workers) each with small jobs run in parallel.
  if (nth <= 1) {
    fn(0, 1);
    return;
  }
  std::lock_guard<std::mutex> run_lk(run_mu_);
  if (nth > size_) nth = size_;
  if (nth <= 1) {
    fn(0, 1);
    return;
  }
  job_ = &fn;
  job_nth_ = nth;
  pending_.store((int)threads_.size(), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  {
    // a worker between its check of generation_ and its wait holds mu_: once we have had mu_,
    // every sleeper is waiting, and the notify reaches it
    std::lock_guard<std::mutex> lk(mu_);
  }
  cv_work_.notify_all();
  fn(0, nth);
  auto done = [&] { return pending_.load(std::memory_order_acquire) == 0; };
  if (!poll_for(spin_ns_, done)) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_done_.wait(lk, done);
  }
  job_ = nullptr;
}

}  // namespace kan
