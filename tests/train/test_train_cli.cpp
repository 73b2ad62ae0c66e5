// Tests of `xlstm-music train` run as the real binary on a small prepared corpus (tiny preset, one thread):
// the loss goes down and the model file records what it should; --resume continues exactly; kill -9 at random
// moments never leaves a corrupt model file; the divergence guard skips and stops; bad flags and bad corpora
// give the documented exit codes. Not the windows (test_loader.cpp).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include "model/model_file.h"
#include "train/loader.h"
#include "train/train_test_util.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace {

const std::string kFast = " --preset tiny --batch 4 --seq 32 --eval-windows 8 --threads 1 --quiet";

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::string binary() {
  const char* b = std::getenv("XM_BINARY");
  return b && *b ? b : XM_TEST_BINARY;
}

std::vector<double> losses(const std::vector<xm::json>& lines) {
  std::vector<double> v;
  for (const auto& j : lines)
    if (j["step"].get<int64_t>() > 0) v.push_back(j["loss"].is_number() ? j["loss"].get<double>() : NAN);
  return v;
}

// fork + exec of the binary with stdio on /dev/null.
pid_t spawn(const std::vector<std::string>& args) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open("/dev/null", O_RDWR);
    ::dup2(fd, 0), ::dup2(fd, 1), ::dup2(fd, 2);
    std::string bin = binary();
    std::vector<char*> argv = {bin.data()};
    std::vector<std::string> copy = args;
    for (auto& s : copy) argv.push_back(s.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

TEST(train, loss_goes_down_and_the_model_file_records_the_run) {
  const xmtest::ScopedDir scoped("train-loss");
  const fs::path dir = scoped.path;
  fs::path corpus;
  ASSERT_NO_FATAL_FAILURE(xmtest::make_train_corpus(dir, &corpus));
  const fs::path out = dir / "models" / "tiny.safetensors";
  auto r = xmtest::run_cli("train --data " + q(corpus) + " --out " + q(out) + kFast + " --steps 40 --eval-every 20");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("trained"), std::string::npos) << r.out;
  const auto paths = xm::train::train_paths(out);
  const auto lines = xmtest::log_lines(paths.log);
  ASSERT_EQ(lines.size(), 41u);  // step 0 (validation only), then 1..40
  for (size_t i = 0; i < lines.size(); ++i) ASSERT_EQ(lines[i]["step"].get<int64_t>(), int64_t(i));
  for (const char* k : {"loss", "lr", "grad_norm", "tokens_per_s"}) EXPECT_TRUE(lines[1].contains(k)) << k;
  const auto l = losses(lines);
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) first += l[size_t(i)] / 5, last += l[l.size() - 1 - size_t(i)] / 5;
  EXPECT_LT(last, first - 1.0) << "training loss " << first << " -> " << last;
  const double v0 = lines[0]["valid_loss"].get<double>(), v1 = lines[40]["valid_loss"].get<double>();
  EXPECT_LT(v1, v0 - 1.0) << "validation loss " << v0 << " -> " << v1;
  EXPECT_TRUE(lines[20].contains("valid_loss"));
  EXPECT_FALSE(lines[19].contains("valid_loss"));
  for (const char* g : {"folk", "rock"}) EXPECT_TRUE(lines[40]["valid_loss_per_genre"].contains(g)) << g;

  // The model file: loads, and records config, tokenizer, conditioning tables and the training record.
  xm::data::Corpus c = xm::data::Corpus::open(corpus);
  auto lm = xm::model::load_model<float>(out);
  EXPECT_EQ(lm.model->config().vocab_size, c.vocab_size());
  EXPECT_EQ(lm.model->config().context_length, 32);
  EXPECT_EQ(lm.meta.tokenizer, c.vocab());
  auto genres = lm.meta.conditioning["genres"].get<std::vector<std::string>>();
  std::sort(genres.begin(), genres.end());
  EXPECT_EQ(genres, (std::vector<std::string>{"folk", "rock"}));
  const xm::json& t = lm.meta.training;
  EXPECT_EQ(t["steps"], 40);
  EXPECT_EQ(t["finished"], true);
  EXPECT_EQ(t["val_loss"].get<double>(), v1);
  EXPECT_NEAR(t["train_loss"].get<double>(), 0, 10);
  EXPECT_NE(t["command_line"].get<std::string>().find("train --data"), std::string::npos);
  EXPECT_EQ(fs::path(t["data"].get<std::string>()), fs::absolute(corpus).lexically_normal());
  EXPECT_GT(t["wall_seconds"].get<double>(), 0);
  const std::string svg = xm::read_file_text(paths.plot);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_TRUE(fs::exists(paths.checkpoint));
}

TEST(train, resume_continues_exactly) {
  const xmtest::ScopedDir scoped("train-resume");
  const fs::path dir = scoped.path;
  fs::path corpus;
  ASSERT_NO_FATAL_FAILURE(xmtest::make_train_corpus(dir, &corpus));
  const std::string common = " --data " + q(corpus) + kFast + " --steps 24 --checkpoint-every 8 --eval-every 12";
  const fs::path a = dir / "a" / "m.safetensors", b = dir / "b" / "m.safetensors";
  auto r = xmtest::run_cli("train --out " + q(a) + common);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = xmtest::run_cli("train --out " + q(b) + common + " --stop-at 10");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("stopped"), std::string::npos) << r.out;
  EXPECT_EQ(xm::model::load_model<float>(b).meta.training["finished"], false);
  // A resume that changes the math is refused, naming the setting, and changes nothing.
  r = xmtest::run_cli("train --out " + q(b) + common + " --resume --lr 0.01");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("lr"), std::string::npos) << r.err;
  // The settings come from the checkpoint when not given.
  r = xmtest::run_cli("train --resume --data " + q(corpus) + " --out " + q(b) + " --threads 1 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const auto la = xmtest::log_lines(xm::train::train_paths(a).log), lb = xmtest::log_lines(xm::train::train_paths(b).log);
  ASSERT_EQ(la.size(), 25u);
  ASSERT_EQ(lb.size(), la.size());
  for (size_t i = 0; i < la.size(); ++i) {
    ASSERT_EQ(lb[i]["step"], la[i]["step"]);
    for (const char* k : {"loss", "grad_norm", "lr", "valid_loss"}) {
      ASSERT_EQ(la[i].contains(k), lb[i].contains(k)) << k << " at line " << i;
      if (la[i].contains(k)) {
        EXPECT_EQ(la[i][k].get<double>(), lb[i][k].get<double>()) << k << " at step " << i;
      }
    }
  }
  auto ma = xm::model::load_model<float>(a), mb = xm::model::load_model<float>(b);
  EXPECT_EQ(ma.model->params(), mb.model->params());
  EXPECT_EQ(mb.meta.training["steps"], 24);
  EXPECT_EQ(mb.meta.training["finished"], true);
}

TEST(train, kill_9_never_leaves_a_corrupt_model_file) {
  const xmtest::ScopedDir scoped("train-kill");
  const fs::path dir = scoped.path;
  fs::path corpus;
  ASSERT_NO_FATAL_FAILURE(xmtest::make_train_corpus(dir, &corpus));
  const fs::path out = dir / "m.safetensors";
  const auto paths = xm::train::train_paths(out);
  const std::vector<std::string> args = {"train",   "--data",  corpus.string(), "--out",  out.string(), "--preset",
                                         "tiny",    "--batch", "2",             "--seq",  "16",         "--steps",
                                         "60",      "--checkpoint-every", "1",  "--eval-every", "10", "--eval-windows",
                                         "4",       "--threads", "1",           "--resume"};
  std::mt19937 rng(20240917);
  std::uniform_int_distribution<int> delay_ms(20, 500);
  int killed = 0;
  for (int round = 0; round < 7; ++round) {
    const pid_t pid = spawn(args);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) {
      ++killed;
    } else {
      EXPECT_EQ(WEXITSTATUS(status), 0) << "round " << round;
    }
    for (const fs::path& p : {paths.model, paths.checkpoint}) {
      if (!fs::exists(p)) continue;
      EXPECT_NO_THROW(xm::model::load_model<float>(p)) << p << " after round " << round;
    }
  }
  EXPECT_GT(killed, 0);
  auto r = xmtest::run_cli("train --data " + q(corpus) + " --out " + q(out) + " --resume --threads 1 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = xmtest::log_lines(paths.log);
  ASSERT_EQ(lines.size(), 61u);
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(lines[i]["step"].get<int64_t>(), int64_t(i));
  EXPECT_EQ(xm::model::load_model<float>(out).meta.training["steps"], 60);
  // no temp files of the killed writers are left once a run has cleaned up
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

TEST(train, divergence_guard_skips_steps_and_stops_keeping_the_last_good_checkpoint) {
  const xmtest::ScopedDir scoped("train-nan");
  const fs::path dir = scoped.path;
  fs::path corpus;
  ASSERT_NO_FATAL_FAILURE(xmtest::make_train_corpus(dir, &corpus));
  const std::string common = " --data " + q(corpus) + kFast + " --eval-every 0";
  // A skipped step makes no update: steps 2 and 3 skipped leave the model of step 1.
  const fs::path a = dir / "a.safetensors", b = dir / "b.safetensors";
  auto r = xmtest::run_shell("XM_TRAIN_INJECT_NAN=2,3 '" + binary() + "' train --out " + q(a) + common + " --steps 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = xmtest::run_cli("train --out " + q(b) + common + " --steps 3 --stop-at 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ma = xm::model::load_model<float>(a), mb = xm::model::load_model<float>(b);
  EXPECT_EQ(ma.model->params(), mb.model->params());
  EXPECT_EQ(ma.meta.training["skipped_steps"], 2);

  // Five in a row stop the run with exit 1; the checkpoint of step 4 (before the streak) is kept.
  const fs::path c = dir / "c.safetensors";
  r = xmtest::run_shell("XM_TRAIN_INJECT_NAN=3,6,7,8,9,10,11 '" + binary() + "' train --out " + q(c) + common +
                        " --steps 20 --checkpoint-every 4");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("diverged"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("5 steps in a row"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(xm::train::train_paths(c).checkpoint.string()), std::string::npos) << r.err;
  const auto lines = xmtest::log_lines(xm::train::train_paths(c).log);
  ASSERT_EQ(lines.size(), 11u);  // step 0 (validation), steps 1..10
  for (const auto& j : lines) {
    const int64_t s = j["step"].get<int64_t>();
    if (s == 0) continue;
    const bool bad = s == 3 || s >= 6;
    EXPECT_EQ(j.value("skipped", false), bad) << "step " << s;
    if (bad) {
      EXPECT_EQ(j["reason"], "non-finite gradient");
    } else {
      EXPECT_TRUE(j["loss"].is_number());
    }
  }
  auto mc = xm::model::load_model<float>(c);
  EXPECT_EQ(mc.meta.training["steps"], 4);
  EXPECT_EQ(xm::train::read_checkpoint_run(xm::train::train_paths(c).checkpoint)["steps"], 20);
}

TEST(train, epochs_set_the_number_of_steps) {
  const xmtest::ScopedDir scoped("train-epochs");
  const fs::path dir = scoped.path;
  fs::path corpus;
  ASSERT_NO_FATAL_FAILURE(xmtest::make_train_corpus(dir, &corpus));
  auto r = xmtest::run_cli("train --data " + q(corpus) + " --out " + q(dir / "m.safetensors") + kFast +
                           " --epochs 0.5 --stop-at 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const xm::json rec = xm::json::parse(r.out);
  xm::data::Corpus c = xm::data::Corpus::open(corpus);
  auto tok = c.make_tokenizer();
  xm::train::WindowLoader L(c, xm::data::Split::Train, *tok, 32);
  EXPECT_EQ(rec["steps_planned"].get<int64_t>(), int64_t(std::ceil(0.5 * double(L.body_tokens()) / (4 * 32))));
  EXPECT_EQ(rec["steps"], 1);
}

TEST(train, bad_flags_exit_2_naming_the_flag) {
  const xmtest::ScopedDir scoped("train-flags");
  const fs::path dir = scoped.path;
  const std::string d = " --data " + q(dir / "none");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {d + " --preset tiny --out m.safetensors --batch 0", "--batch"},
      {d + " --preset tiny --out m.safetensors --lr abc", "--lr"},
      {d + " --preset tiny --out m.safetensors --seq 1", "--seq"},
      {d + " --preset tiny --out m.safetensors --bogus 3", "--bogus"},
      {d + " --preset nope --out m.safetensors", "--preset"},
      {d + " --out m.safetensors", "--preset"},
      {d + " --preset tiny", "--out"},
      {" --preset tiny --out m.safetensors", "--data"},
      {d + " --preset tiny --model-config c.json --out m.safetensors", "--model-config"},
      {d + " --preset tiny --out m.safetensors --steps 5 --epochs 1", "--epochs"},
  };
  for (const auto& [args, flag] : cases) {
    auto r = xmtest::run_cli("train" + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(flag), std::string::npos) << args << "\n" << r.err;
  }
  auto h = xmtest::run_cli("train --help");
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_NE(h.out.find("--resume"), std::string::npos);
}

TEST(train, bad_corpus_or_config_exit_1_naming_it) {
  const xmtest::ScopedDir scoped("train-badcorpus");
  const fs::path dir = scoped.path;
  const fs::path missing = dir / "no-such-corpus";
  auto r = xmtest::run_cli("train --data " + q(missing) + " --preset tiny --out " + q(dir / "m.safetensors"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(missing.string()), std::string::npos) << r.err;
  fs::create_directories(dir / "empty");
  r = xmtest::run_cli("train --data " + q(dir / "empty") + " --preset tiny --out " + q(dir / "m.safetensors"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find((dir / "empty" / "index.json").string()), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "m.safetensors"));
  xm::write_file_atomic(dir / "cfg.json", std::string("{\"embedding_dim\": "));
  r = xmtest::run_cli("train --data " + q(dir / "empty") + " --model-config " + q(dir / "cfg.json") + " --out " +
                      q(dir / "m.safetensors"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cfg.json"), std::string::npos) << r.err;
}
