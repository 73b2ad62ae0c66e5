// test_jobs.cpp: the job queue with stand-in work (no model): states and progress, the bounded number of workers,
// the bounded queue, cancelling a queued and a running job, failures carrying their message, watchers woken by
// changes (what Server-Sent Events rely on), and shutdown cancelling what is left.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "server/jobs.h"
#include "support/test_support.h"

namespace {

using namespace std::chrono_literals;
using xm::server::JobQueue;
using xm::server::JobQueueOptions;
using xm::server::JobState;
using xm::server::ProgressFn;

// A gate the test opens to let blocked stand-in jobs finish.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void release() {
    {
      std::lock_guard<std::mutex> l(mu);
      open = true;
    }
    cv.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return open; });
  }
};

JobState wait_finished(JobQueue& q, const std::string& id) {
  for (int i = 0; i < 5000; ++i) {
    auto s = q.status(id);
    if (s && xm::server::job_finished(s->state)) return s->state;
    std::this_thread::sleep_for(1ms);
  }
  return JobState::queued;
}

TEST(server, jobs_run_report_progress_and_finish) {
  JobQueue q(JobQueueOptions{});
  auto id = q.submit([](const std::string& job_id, const ProgressFn& p) {
    for (int i = 1; i <= 10; ++i) p(i / 10.0);
    return std::vector<std::string>{"piece-of-" + job_id, "second"};
  }, "label");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->size(), 16u);
  ASSERT_EQ(wait_finished(q, *id), JobState::done);
  auto s = q.status(*id);
  EXPECT_EQ(s->progress, 1.0);
  ASSERT_EQ(s->pieces.size(), 2u);
  EXPECT_EQ(s->pieces[0], "piece-of-" + *id);
  auto j = s->to_json();
  EXPECT_EQ(j["state"], "done");
  EXPECT_EQ(j["piece"], "piece-of-" + *id);
  EXPECT_EQ(j["pieces"].size(), 2u);
  EXPECT_EQ(j["model"], "label");
  EXPECT_FALSE(j.contains("error"));
  EXPECT_FALSE(q.status("0000000000000000").has_value());

  auto bad = q.submit([](const std::string&, const ProgressFn&) -> std::vector<std::string> {
    throw std::runtime_error("the model broke");
  });
  ASSERT_EQ(wait_finished(q, *bad), JobState::failed);
  EXPECT_EQ(q.status(*bad)->to_json()["error"], "the model broke");
  EXPECT_EQ(q.counts()["done"], 1);
  EXPECT_EQ(q.counts()["failed"], 1);
}

TEST(server, jobs_bounded_workers_queue_and_cancel) {
  JobQueueOptions o;
  o.workers = 2;
  o.max_queued = 3;
  JobQueue q(o);
  Gate gate;
  std::atomic<int> running{0}, max_running{0};
  auto blocked = [&](const std::string&, const ProgressFn&) {
    const int now = ++running;
    int m = max_running.load();
    while (now > m && !max_running.compare_exchange_weak(m, now)) {
    }
    gate.wait();
    --running;
    return std::vector<std::string>{};
  };
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) ids.push_back(*q.submit(blocked));
  // Both workers busy: wait until they have picked up the first two jobs.
  for (int i = 0; i < 5000 && q.counts()["running"] != 2; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(q.counts()["running"], 2);
  for (int i = 0; i < 3; ++i) ids.push_back(*q.submit(blocked));
  EXPECT_FALSE(q.submit(blocked).has_value());  // 3 waiting: the queue is full
  EXPECT_EQ(q.counts()["queued"], 3);

  auto c = q.cancel(ids[4]);  // queued: cancelled at once
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->state, JobState::cancelled);
  EXPECT_TRUE(q.submit(blocked).has_value());  // room again
  gate.release();
  for (size_t i = 0; i < ids.size(); ++i)
    EXPECT_EQ(wait_finished(q, ids[i]), i == 4 ? JobState::cancelled : JobState::done) << i;
  EXPECT_EQ(max_running.load(), 2);
  EXPECT_FALSE(q.cancel("ffffffffffffffff").has_value());
  EXPECT_EQ(q.cancel(ids[0])->state, JobState::done);  // finished jobs stay as they are
}

TEST(server, jobs_cancel_a_running_job_through_its_progress) {
  JobQueue q(JobQueueOptions{});
  std::atomic<bool> started{false};
  auto id = *q.submit([&](const std::string&, const ProgressFn& p) -> std::vector<std::string> {
    started = true;
    for (;;) {
      if (!p(0.5)) throw std::runtime_error("stopped");
      std::this_thread::sleep_for(1ms);
    }
  });
  for (int i = 0; i < 5000 && !started; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(started);
  auto c = q.cancel(id);
  EXPECT_EQ(c->state, JobState::running);  // asked to stop; the work notices at its next progress call
  EXPECT_EQ(wait_finished(q, id), JobState::cancelled);
  EXPECT_FALSE(q.status(id)->to_json().contains("error"));
}

TEST(server, jobs_watchers_wake_on_change_and_time_out_otherwise) {
  JobQueue q(JobQueueOptions{});
  Gate gate;
  auto id = *q.submit([&](const std::string&, const ProgressFn& p) {
    gate.wait();
    p(0.5);
    return std::vector<std::string>{"x"};
  });
  auto s = q.status(id);
  // No change while the gate is closed (after the job started): the wait times out with the same version.
  for (int i = 0; i < 5000 && q.status(id)->state != JobState::running; ++i) std::this_thread::sleep_for(1ms);
  const int64_t v = q.status(id)->version;
  const auto t0 = std::chrono::steady_clock::now();
  auto same = q.wait_change(id, v, 50ms);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 45ms);
  EXPECT_EQ(same->version, v);
  std::thread opener([&] {
    std::this_thread::sleep_for(20ms);
    gate.release();
  });
  std::vector<JobState> seen;
  int64_t last = v;
  for (int i = 0; i < 100; ++i) {
    auto c = q.wait_change(id, last, 5000ms);
    ASSERT_TRUE(c.has_value());
    ASSERT_GT(c->version, last);
    last = c->version;
    seen.push_back(c->state);
    if (xm::server::job_finished(c->state)) break;
  }
  opener.join();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), JobState::done);
  EXPECT_FALSE(q.wait_change("0000000000000000", 0, 10ms).has_value());
}

TEST(server, jobs_shutdown_cancels_what_is_left) {
  JobQueue q(JobQueueOptions{});
  std::atomic<bool> started{false};
  auto running = *q.submit([&](const std::string&, const ProgressFn& p) -> std::vector<std::string> {
    started = true;
    while (p(0.1)) std::this_thread::sleep_for(1ms);
    throw std::runtime_error("cancelled");
  });
  for (int i = 0; i < 5000 && !started; ++i) std::this_thread::sleep_for(1ms);
  auto waiting = *q.submit([](const std::string&, const ProgressFn&) { return std::vector<std::string>{}; });
  q.shutdown();
  EXPECT_EQ(q.status(running)->state, JobState::cancelled);
  EXPECT_EQ(q.status(waiting)->state, JobState::cancelled);
  EXPECT_FALSE(q.submit([](const std::string&, const ProgressFn&) { return std::vector<std::string>{}; }));
}

}  // namespace
