#include "thread_pool.h"

#include <cstdlib>

namespace kan {

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
  start(n);
}

ThreadPool::~ThreadPool() { stop(); }

int ThreadPool::size() {
  std::lock_guard<std::mutex> lk(mu_);
  return size_;
}

void ThreadPool::start(int n) {
  quit_ = false;
  size_ = n;
  // New workers start having 'seen' the current generation, so they wait for the next job.
  const unsigned long gen = generation_;
  for (int id = 1; id < n; ++id) threads_.emplace_back(&ThreadPool::worker, this, id, gen);
}

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    quit_ = true;
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
    const std::function<void(int, int)>* job;
    int nth;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_work_.wait(lk, [&] { return quit_ || generation_ != seen; });
      if (quit_) return;
      seen = generation_;
      job = job_;
      nth = job_nth_;
    }
    if (id < nth) (*job)(id, nth);
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (--pending_ == 0) cv_done_.notify_one();
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
  {
    std::lock_guard<std::mutex> lk(mu_);
    job_ = &fn;
    job_nth_ = nth;
    pending_ = (int)threads_.size();
    ++generation_;
  }
  cv_work_.notify_all();
  fn(0, nth);
  std::unique_lock<std::mutex> lk(mu_);
  cv_done_.wait(lk, [&] { return pending_ == 0; });
  job_ = nullptr;
}

}  // namespace kan
