// jobs.cpp: see jobs.h. One mutex guards every job; progress updates are published (version bump + notify) only
// when they move by at least 1% so a fast sampler does not flood Server-Sent Events watchers.
#include "server/jobs.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>

#include "server/store.h"

namespace xm::server {
namespace {

double unix_now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

const char* job_state_name(JobState s) {
  switch (s) {
    case JobState::queued: return "queued";
    case JobState::running: return "running";
    case JobState::done: return "done";
    case JobState::failed: return "failed";
    case JobState::cancelled: return "cancelled";
  }
  return "?";
}

json JobStatus::to_json() const {
  json j = {{"id", id}, {"state", job_state_name(state)}, {"progress", progress}, {"pieces", pieces}};
  if (!pieces.empty()) j["piece"] = pieces.front();
  if (state == JobState::failed) j["error"] = error;
  if (!label.empty()) j["model"] = label;
  j["created"] = created_s;
  if (started_s > 0) j["started"] = started_s;
  if (finished_s > 0) j["finished"] = finished_s;
  return j;
}

JobQueue::JobQueue(JobQueueOptions opt) : opt_(std::move(opt)) {
  if (opt_.workers < 1) opt_.workers = 1;
  for (int i = 0; i < opt_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

JobQueue::~JobQueue() { shutdown(); }

std::optional<std::string> JobQueue::submit(JobWork work, const std::string& label) {
  auto job = std::make_shared<Job>();
  job->work = std::move(work);
  job->st.label = label;
  job->st.created_s = unix_now_s();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= opt_.max_queued) return std::nullopt;
    std::string id;
    do id = PieceStore::new_id();
    while (jobs_.count(id));
    job->st.id = id;
    job->st.version = 1;
    jobs_[id] = job;
    queue_.push_back(id);
  }
  work_cv_.notify_one();
  return job->st.id;
}

std::optional<JobStatus> JobQueue::status(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second->st;
}

std::optional<JobStatus> JobQueue::wait_change(const std::string& id, int64_t seen_version,
                                               std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    if (it->second->st.version > seen_version || stopping_) return it->second->st;
    if (change_cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      it = jobs_.find(id);
      if (it == jobs_.end()) return std::nullopt;
      return it->second->st;
    }
  }
}

std::optional<JobStatus> JobQueue::cancel(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  Job& job = *it->second;
  if (job.st.state == JobState::queued) {
    for (auto q = queue_.begin(); q != queue_.end(); ++q)
      if (*q == id) {
        queue_.erase(q);
        break;
      }
    finish_locked(job, JobState::cancelled, "", {});
  } else if (job.st.state == JobState::running) {
    job.cancel_requested = true;
  }
  return job.st;
}

json JobQueue::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {{"queued", queue_.size()}, {"running", running_},  {"done", done_},
          {"failed", failed_},       {"cancelled", cancelled_}, {"workers", opt_.workers},
          {"max_queued", opt_.max_queued}};
}

void JobQueue::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
    while (!queue_.empty()) {
      auto it = jobs_.find(queue_.front());
      queue_.pop_front();
      if (it != jobs_.end()) finish_locked(*it->second, JobState::cancelled, "", {});
    }
    for (auto& [id, job] : jobs_)
      if (job->st.state == JobState::running) job->cancel_requested = true;
  }
  work_cv_.notify_all();
  change_cv_.notify_all();
  for (std::thread& t : workers_)
    if (t.joinable()) t.join();
  std::lock_guard<std::mutex> lock(mu_);
  workers_.clear();
}

// Called with mu_ held.
void JobQueue::finish_locked(Job& job, JobState state, const std::string& error, std::vector<std::string> pieces) {
  job.st.state = state;
  job.st.error = error;
  job.st.pieces = std::move(pieces);
  if (state == JobState::done) job.st.progress = 1.0;
  job.st.finished_s = unix_now_s();
  ++job.st.version;
  job.work = nullptr;  // frees what the work captured (the seed, the options)
  if (state == JobState::done) ++done_;
  else if (state == JobState::failed) ++failed_;
  else ++cancelled_;
  finished_.push_back(job.st.id);
  while (finished_.size() > opt_.max_finished) {
    jobs_.erase(finished_.front());
    finished_.pop_front();
  }
  change_cv_.notify_all();
}

void JobQueue::worker_loop() {
  if (opt_.worker_nice > 0) {
    // Linux keeps a niceness per thread: lower this thread (and the OpenMP threads it will create) only.
    const id_t tid = id_t(::syscall(SYS_gettid));
    errno = 0;
    const int cur = ::getpriority(PRIO_PROCESS, tid);
    if (errno == 0) ::setpriority(PRIO_PROCESS, tid, std::min(19, cur + opt_.worker_nice));
  }
  if (opt_.on_worker_start) opt_.on_worker_start();
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      auto it = jobs_.find(queue_.front());
      queue_.pop_front();
      if (it == jobs_.end()) continue;
      job = it->second;
      job->st.state = JobState::running;
      job->st.started_s = unix_now_s();
      ++job->st.version;
      ++running_;
      change_cv_.notify_all();
    }
    ProgressFn progress = [this, job](double p) {
      std::lock_guard<std::mutex> lock(mu_);
      if (std::isfinite(p)) {
        p = std::min(1.0, std::max(0.0, p));
        if (p > job->st.progress) job->st.progress = p;
        if (job->st.progress - job->last_progress_published >= 0.01) {
          job->last_progress_published = job->st.progress;
          ++job->st.version;
          change_cv_.notify_all();
        }
      }
      return !job->cancel_requested;
    };
    JobState state = JobState::done;
    std::string error;
    std::vector<std::string> pieces;
    try {
      pieces = job->work(job->st.id, progress);
    } catch (const std::exception& e) {
      error = e.what();
      state = JobState::failed;
    } catch (...) {
      error = "unknown error";
      state = JobState::failed;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (state == JobState::failed && job->cancel_requested) state = JobState::cancelled;
    --running_;
    finish_locked(*job, state, state == JobState::failed ? error : "", std::move(pieces));
  }
}

}  // namespace xm::server
