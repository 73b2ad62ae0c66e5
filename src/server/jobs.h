// jobs.h: the server's job queue: long work (generation) runs on a bounded number of worker threads, never on the
// HTTP request threads; each job has a state (queued, running, done, failed, cancelled), a progress in [0, 1], a
// version that grows with every visible change (for Server-Sent Events), and can be cancelled. Knows nothing about
// music: a job is a function. Finished jobs are kept in memory (the newest max_finished of them), not on disk.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/json.h"

namespace xm::server {

enum class JobState { queued, running, done, failed, cancelled };
const char* job_state_name(JobState s);
inline bool job_finished(JobState s) { return s == JobState::done || s == JobState::failed || s == JobState::cancelled; }

// Called by the work with its progress in [0, 1]; returns false once the job is cancelled (the work should then
// stop, e.g. by throwing, and its result is discarded).
using ProgressFn = std::function<bool(double)>;
// The work of a job (given its id): returns the ids of what it made (pieces). Throws to fail (the message is the
// job's error); a throw after progress() returned false counts as cancelled.
using JobWork = std::function<std::vector<std::string>(const std::string& job_id, const ProgressFn& progress)>;

struct JobStatus {
  std::string id;
  JobState state = JobState::queued;
  double progress = 0;
  std::vector<std::string> pieces;  // once done
  std::string error;                // once failed
  std::string label;                // what the job is (e.g. the model name), for listings
  int64_t version = 0;              // grows with every change a watcher should see
  double created_s = 0, started_s = 0, finished_s = 0;  // Unix seconds (0 = not yet)
  // {"id", "state", "progress", "piece" (first piece, once done), "pieces", "error" (once failed), ...}
  json to_json() const;
};

struct JobQueueOptions {
  int workers = 1;              // jobs that run at once
  size_t max_queued = 64;       // submit() refuses more waiting jobs
  size_t max_finished = 1000;   // finished jobs remembered (oldest forgotten first)
  int worker_nice = 0;          // added to the niceness of each worker thread (Linux: per thread), so request
                                // threads keep the CPU when generation competes with them
  std::function<void()> on_worker_start;  // run once in each worker thread before its first job
};

class JobQueue {
 public:
  explicit JobQueue(JobQueueOptions opt);
  ~JobQueue();  // shutdown()
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  // Queues work and returns the job's id (16 hex digits); nullopt when max_queued jobs already wait or the queue
  // is shutting down.
  std::optional<std::string> submit(JobWork work, const std::string& label = "");
  std::optional<JobStatus> status(const std::string& id) const;
  // Waits until the job's version exceeds seen_version (or it is gone, or timeout, or shutdown) and returns its
  // status then (nullopt when it is gone).
  std::optional<JobStatus> wait_change(const std::string& id, int64_t seen_version,
                                       std::chrono::milliseconds timeout) const;
  // Cancels: a queued job becomes cancelled at once; a running one is asked to stop (its progress() returns
  // false) and becomes cancelled when its work returns. Returns the status after the request (nullopt when
  // unknown); finished jobs stay as they are.
  std::optional<JobStatus> cancel(const std::string& id);
  // {"queued", "running", "done", "failed", "cancelled", "workers", "max_queued"}
  json counts() const;
  // Cancels everything, wakes every waiter, joins the workers. Idempotent.
  void shutdown();

 private:
  struct Job {
    JobStatus st;
    JobWork work;
    bool cancel_requested = false;
    double last_progress_published = 0;
  };
  JobQueueOptions opt_;
  mutable std::mutex mu_;
  mutable std::condition_variable work_cv_;    // workers wait for queued jobs
  mutable std::condition_variable change_cv_;  // watchers wait for changes
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::string> queue_;     // ids of queued jobs, oldest first
  std::deque<std::string> finished_;  // ids of finished jobs, oldest first
  int running_ = 0;
  int64_t done_ = 0, failed_ = 0, cancelled_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;

  void worker_loop();
  void finish_locked(Job& job, JobState state, const std::string& error, std::vector<std::string> pieces);
};

}  // namespace xm::server
