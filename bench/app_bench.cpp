// Desktop app benchmark (issue 4, point 6): the real `relais` binary under Xvfb, with an empty
// store and with a large one.
//
//   relais_app_bench [--records N] [--launches N] [--saves N] [--dir PATH] [--only saves]
//                    [--ui-checkpoints] [--renderer software|opengl]
//
// Measures, for each store:
//   - first frame: launched with --timing, which prints "relais: first frame after X ms" (from
//     main()); the wall time from fork() to that line is measured too (process start-up and
//     dynamic loading count). Median of --launches launches (default 7).
//   - resident memory (VmRSS) 1 s after the first frame, on the session screen, and the part of
//     it that is OpenGL's libraries (none with the software renderer, the app's default).
//   - idle CPU: utime + stime from /proc/PID/stat over 10 s, starting 1 s after the first frame,
//     with nobody touching the window.
//   - resident memory after browsing the history: the app runs a --script that opens the
//     history, scrolls through it a screen at a time, jumps deep down, to the end and back to
//     the top, then waits 300 frames; /proc/PID/status is sampled every 20 ms. "after" is the
//     sample taken 500 ms before the app exits (inside that final wait: the app unloads its GL
//     driver on the way out), "peak" is VmHWM at that moment.
//   - frame cost: the app's --timing summary at exit (ImGui::Render, rasterising and presenting
//     each frame: median, 95th percentile, slowest) while browsing the history, and over 200
//     frames of the statistics screen.
//   - save: in-process, AppState::save_session on the individual form (validation, store write
//     with fsync, draft file), --saves times (default 200); median, 95th percentile and slowest,
//     and the WAL checkpoints the app's store worker ran meanwhile. `--only saves` measures only
//     this (no Xvfb needed). `--ui-checkpoints` turns SQLite's automatic checkpoint back on for
//     the saving connection (every 1,000 WAL pages, on the saving thread), as before StoreWorker.
//
// Needs Xvfb; starts its own on a free display (-displayfd) and stops it at the end. The large
// store is cached in --dir (default /tmp/relais-app-bench) as store-N.db and copied before use,
// so that runs start from the same file. Prints a Markdown table.
#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "model/app_state.hpp"
#include "relais/assets.hpp"
#include "relais/local_store.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr const char* kPlaceId = "0193a5c0-0000-7000-8000-00000000a001";

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() / 2];
}

double percentile(std::vector<double> values, int p) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0.0 : values[values.size() * static_cast<std::size_t>(p) / 100];
}

// ---------------------------------------------------------------------------------------------
// Stores

// Sessions as an advisor makes them: mostly individual at the usual place, some workshops,
// some at home or at a distance, spread over two years up to yesterday, a note on most.
relais::Session make_session(std::mt19937& random, int i) {
  static const std::vector<std::string> themes{"email", "navigation_sur_internet", "sante", "bureautique",
                                               "securite_numerique", "prendre_en_main_du_materiel"};
  static const std::vector<std::string> communes{"Villeurbanne", "Lyon", "Vénissieux", "Bron", "Écully"};
  relais::Session s;
  const bool workshop = i % 10 == 0;
  s.type = workshop ? "collectif" : "individuel";
  const int day = i % 600;  // 2025-01-01 .. 2026-11-..
  s.date = relais::format_date(relais::Date{2025 + day / 336, static_cast<unsigned>(1 + (day % 336) / 28),
                                            static_cast<unsigned>(1 + day % 28)});
  s.duree = 15 * (1 + static_cast<int>(random() % 8));
  if (i % 5 == 4) {
    s.type_lieu = "domicile";
    s.lieu_commune = communes[random() % communes.size()];
    s.lieu_code_postal = "69100";
    s.lieu_code_insee = "69266";
  } else {
    s.type_lieu = "lieu_activite";
    s.lieu_id = kPlaceId;
  }
  s.materiel = {"ordinateur"};
  s.thematiques = {themes[random() % themes.size()]};
  if (random() % 3 == 0) s.thematiques.push_back(themes[random() % themes.size()]);
  std::sort(s.thematiques.begin(), s.thematiques.end());
  s.thematiques.erase(std::unique(s.thematiques.begin(), s.thematiques.end()), s.thematiques.end());
  if (workshop) {
    s.titre_atelier = "Atelier n° " + std::to_string(i);
    s.participants = relais::Participants{};
    s.participants->total = 6;
  } else {
    s.autonomie = "partiellement_autonome";
    s.beneficiaire = relais::Beneficiaire{};
    s.beneficiaire->genre = (i % 2) ? "feminin" : "masculin";
  }
  if (i % 4 != 0) s.notes = "Séance " + std::to_string(i) + " : revoir la messagerie la semaine prochaine.";
  return s;
}

// A store as after the app's first-run screen (offline set-up): the advisor's usual place and
// name are set, then `records` sessions added in batches of 1,000.
void make_store(const fs::path& path, const relais::Assets& assets, int records) {
  fs::remove(path);
  relais::LocalStore store(path, assets.vocabulary);
  const relais::ValidationContext context{assets.vocabulary, relais::today_local()};
  auto place = relais::check_record(relais::RecordKind::place,
                                    {{"id", kPlaceId}, {"nom", "Médiathèque Jean-Macé"}, {"commune", "Villeurbanne"},
                                     {"code_postal", "69100"}},
                                    context);
  if (!place.ok() || !store.add(std::move(place.record)).ok()) throw std::runtime_error("cannot add the place");
  store.set_meta(relais::app::setting::setup_done, "offline");
  store.set_meta(relais::app::setting::advisor_prenom, "Samia");
  store.set_meta(relais::app::setting::advisor_nom, "Benali");
  store.set_meta(relais::app::setting::lieu_id, kPlaceId);
  std::mt19937 random(42);
  for (int done = 0; done < records; done += 1000) {
    std::vector<relais::AnyRecord> batch;
    for (int i = done; i < std::min(records, done + 1000); ++i) batch.emplace_back(make_session(random, i));
    const auto written = store.add(std::move(batch));
    if (!written.ok()) throw std::runtime_error("cannot add sessions: " + written.problems.front().field + " " +
                                                      written.problems.front().reason);
  }
}

// The large store is slow to make (about 5 s per 100,000): kept in `dir` between runs, and
// brought to this build's schema.
fs::path cached_store(const fs::path& dir, const relais::Assets& assets, int records) {
  const auto path = dir / ("store-" + std::to_string(records) + ".db");
  if (!fs::exists(path)) {
    std::cerr << "making a store of " << records << " sessions in " << path << "...\n";
    make_store(dir / "making.db", assets, records);
    fs::rename(dir / "making.db", path);
  }
  // A store cached by an older build: migrated once here, not by the app at each launch.
  relais::LocalStore::Options options;
  options.backup_before_migration = false;
  { const relais::LocalStore migrated(path, assets.vocabulary, options); }
  return path;
}

// A fresh copy, so that the app and the save loop never change the cached file.
fs::path working_copy(const fs::path& from, const fs::path& to) {
  for (const char* suffix : {"", "-wal", "-shm", ".drafts.json"}) fs::remove(to.string() + suffix);
  fs::copy_file(from, to);
  return to;
}

// ---------------------------------------------------------------------------------------------
// Processes

// A child process with its stderr on a pipe; killed and reaped on destruction.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");  // no leak into later children
    std::vector<std::string> env_strings(extra_env);
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      const auto name = entry.substr(0, entry.find('=') + 1);
      const bool overridden = std::any_of(extra_env.begin(), extra_env.end(),
                                          [&](const std::string& x) { return x.rfind(name, 0) == 0; });
      if (!overridden) env_strings.push_back(entry);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> env;
    for (const auto& e : env_strings) env.push_back(const_cast<char*>(e.c_str()));
    env.push_back(nullptr);
    started_ = Clock::now();
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(fds[1], STDERR_FILENO);
      const int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
      dup2(null, STDOUT_FILENO);
      execve(args[0], args.data(), env.data());
      _exit(127);
    }
    close(fds[1]);
    stderr_fd_ = fds[0];
  }
  ~Child() {
    stop();
    if (stderr_fd_ >= 0) close(stderr_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  Clock::time_point started() const { return started_; }

  // Reads stderr until a line contains `text` (true), the pipe closes or the timeout passes.
  bool wait_for_line(const std::string& text, std::chrono::milliseconds timeout, std::string& line_out) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (const auto newline = buffer_.find('\n'); newline != std::string::npos) {
        const auto line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        if (line.find(text) != std::string::npos) {
          line_out = line;
          return true;
        }
        continue;
      }
      pollfd fd{stderr_fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (poll(&fd, 1, static_cast<int>(std::max<long>(1, left))) <= 0) continue;
      char chunk[4096];
      const auto n = read(stderr_fd_, chunk, sizeof chunk);
      if (n <= 0) return false;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
    return false;
  }
  const std::string& unread_output() const { return buffer_; }

  // The exit status once it has exited, without waiting.
  std::optional<int> poll_exit() {
    if (pid_ <= 0) return exit_status_;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
    }
    return exit_status_;
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::string buffer_;
  std::optional<int> exit_status_;
  Clock::time_point started_;
};

// An Xvfb server of its own, on the display it picks (-displayfd).
class Xvfb {
 public:
  Xvfb() {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      close(fds[0]);
      const int null = open("/dev/null", O_WRONLY);
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
      const auto fd = std::to_string(fds[1]);
      execl("/usr/bin/Xvfb", "Xvfb", "-displayfd", fd.c_str(), "-screen", "0", "1366x768x24", "-nolisten", "tcp",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    std::string number;
    char c = 0;
    while (read(fds[0], &c, 1) == 1 && c != '\n') number += c;
    close(fds[0]);
    if (number.empty()) throw std::runtime_error("Xvfb did not start (is it installed?)");
    display_ = ":" + number;
  }
  ~Xvfb() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  Xvfb(const Xvfb&) = delete;
  Xvfb& operator=(const Xvfb&) = delete;
  const std::string& display() const { return display_; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::string display_;
};

// A field of /proc/PID/status in kB ("VmRSS", "VmHWM"); nullopt once the process is gone.
std::optional<double> status_mb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atof(line.c_str() + field.size() + 1) / 1024.0;
  }
  return std::nullopt;
}

// Resident memory of OpenGL's libraries (libGL, libGLX, libGLdispatch, libglapi and Mesa's
// llvmpipe: libLLVM, dri/*.so), from /proc/PID/smaps: what any OpenGL window costs here,
// whatever it draws. Nothing with the software renderer, which makes no GL context.
double gl_driver_mb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  std::string line;
  bool driver = false;
  double kb = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < 16) {
      driver = line.find("libLLVM") != std::string::npos || line.find("/dri/") != std::string::npos ||
               line.find("/libGL") != std::string::npos || line.find("/libglapi") != std::string::npos;
    } else if (driver && line.rfind("Rss:", 0) == 0) {
      kb += std::atof(line.c_str() + 4);
    }
  }
  return kb / 1024.0;
}

// utime + stime of a process, in seconds.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));  // the name may hold spaces
  std::vector<std::string> f;
  std::string field;
  while (fields >> field) f.push_back(field);
  if (f.size() < 13) throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/stat");
  // After the name: state is field 3, utime field 14, stime field 15 (proc(5)).
  return (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// ---------------------------------------------------------------------------------------------
// Measures

struct Results {
  double first_frame_app_ms = 0;   // median, from main()
  double first_frame_wall_ms = 0;  // median, from fork()
  double first_frame_wall_max_ms = 0;
  double rss_start_mb = 0;
  double gl_driver_start_mb = 0;  // of rss_start_mb
  double idle_cpu_percent = 0;
  double xvfb_idle_cpu_percent = 0;
  double rss_browsed_mb = 0;
  double hwm_browsed_mb = 0;
  double browse_seconds = 0;
  // --timing's summary: render and present per frame, browsing the history / on Statistiques.
  double frame_browse_median_ms = 0;
  double frame_browse_p95_ms = 0;
  double frame_browse_max_ms = 0;
  double frame_stats_median_ms = 0;
  double frame_stats_p95_ms = 0;
  double frame_stats_max_ms = 0;
  std::string renderer;  // as the app said
  double save_median_ms = 0;
  double save_p95_ms = 0;
  double save_max_ms = 0;
  int save_checkpoints = 0;  // run by the app's store worker during the saves
};

struct Setup {
  std::string app;
  std::string display;
  pid_t xvfb_pid = -1;
  fs::path dir;
  std::string renderer;  // empty: the app's default
};

std::vector<std::string> app_command(const Setup& setup, const fs::path& db) {
  std::vector<std::string> command{setup.app, "--db", db.string(), "--no-sync", "--timing", "--size", "1366x768"};
  if (!setup.renderer.empty()) {
    command.push_back("--renderer");
    command.push_back(setup.renderer);
  }
  return command;
}

// The app's last --timing line: "N frames drawn (R), render and present: median X ms, 95th
// percentile Y ms, slowest Z ms".
void read_frame_summary(Child& app, double& median_ms, double& p95_ms, double& max_ms, std::string& renderer) {
  std::string line;
  if (!app.wait_for_line("frames drawn", std::chrono::seconds(2), line)) return;
  const auto number_after = [&](const std::string& key) {
    const auto at = line.find(key);
    return at == std::string::npos ? 0.0 : std::atof(line.c_str() + at + key.size());
  };
  median_ms = number_after("median ");
  p95_ms = number_after("percentile ");
  max_ms = number_after("slowest ");
  const auto open = line.find('(');
  renderer = line.substr(open + 1, line.find(')') - open - 1);
}

// Launches the app and waits for its first frame: {ms from main(), ms from fork()}.
std::pair<double, double> await_first_frame(Child& app) {
  std::string line;
  if (!app.wait_for_line("first frame after", std::chrono::seconds(30), line)) {
    throw std::runtime_error("no first frame: " + app.unread_output());
  }
  const double wall = ms_since(app.started());
  const auto at = line.find("after ") + 6;
  return {std::atof(line.c_str() + at), wall};
}

void measure_launches(const Setup& setup, const fs::path& db, int launches, Results& out) {
  std::vector<double> app_ms, wall_ms;
  for (int i = 0; i < launches; ++i) {
    Child app(app_command(setup, db), {"DISPLAY=" + setup.display});
    const auto [in_app, wall] = await_first_frame(app);
    app_ms.push_back(in_app);
    wall_ms.push_back(wall);
  }
  out.first_frame_app_ms = median(app_ms);
  out.first_frame_wall_ms = median(wall_ms);
  out.first_frame_wall_max_ms = *std::max_element(wall_ms.begin(), wall_ms.end());
}

// Resident memory 1 s after the first frame, then CPU over 10 s of idling.
void measure_idle(const Setup& setup, const fs::path& db, Results& out) {
  Child app(app_command(setup, db), {"DISPLAY=" + setup.display});
  await_first_frame(app);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  out.rss_start_mb = status_mb(app.pid(), "VmRSS").value_or(0);
  out.gl_driver_start_mb = gl_driver_mb(app.pid());
  const double app_before = cpu_seconds(app.pid());
  const double xvfb_before = cpu_seconds(setup.xvfb_pid);
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(10));
  const double seconds = ms_since(start) / 1000.0;
  out.idle_cpu_percent = 100.0 * (cpu_seconds(app.pid()) - app_before) / seconds;
  out.xvfb_idle_cpu_percent = 100.0 * (cpu_seconds(setup.xvfb_pid) - xvfb_before) / seconds;
}

// The history, browsed as an advisor would: a screen at a time through the newest rows, a jump
// deep down and more screens there, the end, the top again.
// An empty history has no rows to scroll: it is only opened.
std::string browse_script(bool has_rows) {
  std::ostringstream s;
  s << "view history\nwait 60\n";
  if (!has_rows) {
    s << "wait 300\n";
    return s.str();
  }
  s << "hover history:edit:0\n";
  for (int i = 0; i < 60; ++i) s << "scroll 8\nwait 2\n";  // 8 notches: about a screen
  s << "scroll 10000\nwait 10\n";                            // a third of the way down
  for (int i = 0; i < 30; ++i) s << "scroll 8\nwait 2\n";
  s << "scroll 100000\nwait 10\n";  // the oldest records
  for (int i = 0; i < 30; ++i) s << "scroll -8\nwait 2\n";
  s << "scroll -100000\nwait 10\n";  // back to the newest
  s << "wait 300\n";
  return s.str();
}

void measure_browse(const Setup& setup, const fs::path& db, bool has_rows, Results& out) {
  const auto script = setup.dir / "browse.txt";
  std::ofstream(script) << browse_script(has_rows);
  auto command = app_command(setup, db);
  command.push_back("--script");
  command.push_back(script.string());
  Child app(command, {"DISPLAY=" + setup.display});
  struct Sample {
    double at_ms, rss_mb, hwm_mb;
  };
  std::vector<Sample> samples;
  const auto start = Clock::now();
  while (!app.poll_exit()) {
    const auto rss = status_mb(app.pid(), "VmRSS");
    const auto hwm = status_mb(app.pid(), "VmHWM");
    if (rss && hwm) samples.push_back({ms_since(start), *rss, *hwm});  // a zombie has no Vm lines
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (ms_since(start) > 300000) throw std::runtime_error("the browsing script did not end");
  }
  const double ended_ms = ms_since(start);
  if (*app.poll_exit() != 0) {
    std::string line;
    app.wait_for_line("relais:", std::chrono::seconds(1), line);
    throw std::runtime_error("the browsing script failed: " + line + app.unread_output());
  }
  // The app frees its window and GL driver on the way out: read 500 ms before the end, inside
  // the script's final 300 frames (several seconds under llvmpipe).
  const auto settled = std::find_if(samples.rbegin(), samples.rend(),
                                    [&](const Sample& sample) { return sample.at_ms < ended_ms - 500; });
  if (settled == samples.rend()) throw std::runtime_error("the browsing script ended too soon to measure");
  out.rss_browsed_mb = settled->rss_mb;
  out.hwm_browsed_mb = settled->hwm_mb;
  out.browse_seconds = ended_ms / 1000.0;
  read_frame_summary(app, out.frame_browse_median_ms, out.frame_browse_p95_ms, out.frame_browse_max_ms, out.renderer);
}

// Frame cost on Statistiques: opened, then 200 frames redrawn (its figures computed meanwhile).
void measure_statistics_frames(const Setup& setup, const fs::path& db, Results& out) {
  const auto script = setup.dir / "statistics.txt";
  std::ofstream(script) << "view statistics\nwait 200\n";
  auto command = app_command(setup, db);
  command.push_back("--script");
  command.push_back(script.string());
  Child app(command, {"DISPLAY=" + setup.display});
  const auto start = Clock::now();
  while (!app.poll_exit()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (ms_since(start) > 120000) throw std::runtime_error("the statistics script did not end");
  }
  read_frame_summary(app, out.frame_stats_median_ms, out.frame_stats_p95_ms, out.frame_stats_max_ms, out.renderer);
}

// In-process, as the Save button does: the individual form filled, then save_session.
void measure_saves(const relais::Assets& assets, const fs::path& db, int saves, bool ui_checkpoints, Results& out) {
  relais::app::AppState::Options options;
  options.store_path = db;
  options.background_sync = false;
  relais::app::AppState state(assets, options);
  if (ui_checkpoints) state.store().database().exec("PRAGMA wal_autocheckpoint = 1000");
  static const std::vector<std::string> themes{"email", "sante", "bureautique", "securite_numerique"};
  std::vector<double> times;
  for (int i = 0; i < saves; ++i) {
    auto& form = state.individual;
    form.duree = 30;
    form.thematiques = {themes[static_cast<std::size_t>(i) % themes.size()]};
    form.materiel = {"ordinateur"};
    form.autonomie = "partiellement_autonome";
    form.genre = i % 2 ? "feminin" : "masculin";
    form.notes = "Rendez-vous " + std::to_string(i) + " : créer une adresse e-mail.";
    const auto start = Clock::now();
    const bool saved = state.save_session(form, state.individual_messages);
    times.push_back(ms_since(start));
    if (!saved) {
      std::string why;
      for (const auto& m : state.individual_messages.not_shown(state.lang())) why += "\n  " + m;
      throw std::runtime_error("save_session refused the form:" + why);
    }
  }
  out.save_median_ms = median(times);
  out.save_p95_ms = percentile(times, 95);
  out.save_max_ms = *std::max_element(times.begin(), times.end());
  out.save_checkpoints = state.store_worker().checkpoints();
}

std::string fixed(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string met(bool ok) { return ok ? "met" : "**not met**"; }

}  // namespace

int main(int argc, char** argv) {
  int records = 100000;
  int launches = 7;
  int saves = 200;
  fs::path dir = fs::temp_directory_path() / "relais-app-bench";
  bool only_saves = false;
  std::string renderer;  // --renderer: passed to the app (its default otherwise)
  bool ui_checkpoints = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--ui-checkpoints") ui_checkpoints = true;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--ui-checkpoints") --i;  // a flag: no value to skip
    if (std::string(argv[i]) == "--only") only_saves = std::string(argv[i + 1]) == "saves";
    const std::string option = argv[i];
    if (option == "--records") records = std::atoi(argv[i + 1]);
    if (option == "--launches") launches = std::max(1, std::atoi(argv[i + 1]));
    if (option == "--saves") saves = std::max(1, std::atoi(argv[i + 1]));
    if (option == "--dir") dir = argv[i + 1];
    if (option == "--renderer") renderer = argv[i + 1];
  }
  try {
    fs::create_directories(dir);
    const auto assets = relais::Assets::load(RELAIS_BENCH_ASSETS_DIR);
    const auto large = cached_store(dir, assets, records);
    make_store(dir / "empty-source.db", assets, 0);

    if (only_saves) {
      std::printf("| save a session (%d saves) | median | 95th percentile | slowest | checkpoints meanwhile |\n"
                  "|---|---|---|---|---|\n",
                  saves);
      for (const bool is_empty : {true, false}) {
        Results result;
        measure_saves(assets, working_copy(is_empty ? dir / "empty-source.db" : large, dir / "work.db"), saves,
                      ui_checkpoints, result);
        std::printf("| %s | %.2f ms | %.2f ms | %.2f ms | %d |\n",
                    is_empty ? "empty store" : (std::to_string(records) + " sessions").c_str(), result.save_median_ms,
                    result.save_p95_ms, result.save_max_ms, result.save_checkpoints);
      }
      for (const char* suffix : {"", "-wal", "-shm", ".drafts.json"}) fs::remove(dir.string() + "/work.db" + suffix);
      return 0;
    }

    Xvfb xvfb;
    Setup setup{RELAIS_BENCH_APP_PATH, xvfb.display(), xvfb.pid(), dir, renderer};
    std::cerr << "Xvfb on " << setup.display << "\n";

    Results empty, full;
    for (auto* result : {&empty, &full}) {
      const auto& source = result == &empty ? dir / "empty-source.db" : large;
      const auto name = result == &empty ? std::string("empty") : std::to_string(records);
      std::cerr << "store: " << name << "\n";
      const auto db = working_copy(source, dir / "work.db");
      measure_launches(setup, db, launches, *result);
      std::cerr << "  first frame " << result->first_frame_wall_ms << " ms\n";
      measure_idle(setup, db, *result);
      std::cerr << "  idle " << result->idle_cpu_percent << " %\n";
      measure_browse(setup, db, result == &full, *result);
      std::cerr << "  browsed in " << result->browse_seconds << " s\n";
      measure_statistics_frames(setup, db, *result);
      measure_saves(assets, working_copy(source, dir / "work.db"), saves, ui_checkpoints, *result);
    }
    for (const char* suffix : {"", "-wal", "-shm", ".drafts.json"}) fs::remove(dir.string() + "/work.db" + suffix);

    const auto n = std::to_string(records);
    std::printf("| measure | empty store | %s sessions | target | |\n|---|---|---|---|---|\n", n.c_str());
    const auto row = [](const std::string& what, const std::string& a, const std::string& b, const std::string& target,
                        const std::string& verdict) {
      std::printf("| %s | %s | %s | %s | %s |\n", what.c_str(), a.c_str(), b.c_str(), target.c_str(), verdict.c_str());
    };
    const auto ms = [](double v) { return fixed(v, 0) + " ms"; };
    const auto mb = [](double v) { return fixed(v, 1) + " MB"; };
    const auto pc = [](double v) { return fixed(v, 2) + " %"; };
    row("first frame, from fork() (median of " + std::to_string(launches) + ")", ms(empty.first_frame_wall_ms),
        ms(full.first_frame_wall_ms), "under 300 ms",
        met(empty.first_frame_wall_ms < 300 && full.first_frame_wall_ms < 300));
    row("first frame, slowest launch", ms(empty.first_frame_wall_max_ms), ms(full.first_frame_wall_max_ms), "", "");
    row("first frame, from main() (median)", ms(empty.first_frame_app_ms), ms(full.first_frame_app_ms), "", "");
    row("resident memory 1 s after start (VmRSS)", mb(empty.rss_start_mb), mb(full.rss_start_mb), "", "");
    row("  of which OpenGL's libraries (libGL*, libglapi, libLLVM, dri)", mb(empty.gl_driver_start_mb),
        mb(full.gl_driver_start_mb), "", "");
    row("resident memory after browsing the history (VmRSS)", mb(empty.rss_browsed_mb), mb(full.rss_browsed_mb),
        "under 60 MB", met(full.rss_browsed_mb < 60 && full.hwm_browsed_mb < 60));
    row("peak resident memory while browsing (VmHWM)", mb(empty.hwm_browsed_mb), mb(full.hwm_browsed_mb), "under 60 MB",
        "");
    row("render and present a frame, browsing the history (" + full.renderer + "): median",
        fixed(empty.frame_browse_median_ms, 2) + " ms", fixed(full.frame_browse_median_ms, 2) + " ms", "", "");
    row("  95th percentile / slowest", fixed(empty.frame_browse_p95_ms, 2) + " / " + fixed(empty.frame_browse_max_ms, 2) + " ms",
        fixed(full.frame_browse_p95_ms, 2) + " / " + fixed(full.frame_browse_max_ms, 2) + " ms", "", "");
    row("render and present a frame, Statistiques: median", fixed(empty.frame_stats_median_ms, 2) + " ms",
        fixed(full.frame_stats_median_ms, 2) + " ms", "", "");
    row("  95th percentile / slowest", fixed(empty.frame_stats_p95_ms, 2) + " / " + fixed(empty.frame_stats_max_ms, 2) + " ms",
        fixed(full.frame_stats_p95_ms, 2) + " / " + fixed(full.frame_stats_max_ms, 2) + " ms", "", "");
    row("CPU while idle for 10 s, % of one core", pc(empty.idle_cpu_percent), pc(full.idle_cpu_percent), "under 1 %",
        met(empty.idle_cpu_percent < 1 && full.idle_cpu_percent < 1));
    row("Xvfb's CPU over the same 10 s", pc(empty.xvfb_idle_cpu_percent), pc(full.xvfb_idle_cpu_percent), "", "");
    row("save a session, median of " + std::to_string(saves), fixed(empty.save_median_ms, 2) + " ms",
        fixed(full.save_median_ms, 2) + " ms", "under 5 ms", met(empty.save_median_ms < 5 && full.save_median_ms < 5));
    row("save a session, 95th percentile", fixed(empty.save_p95_ms, 2) + " ms", fixed(full.save_p95_ms, 2) + " ms",
        "under 5 ms", met(empty.save_p95_ms < 5 && full.save_p95_ms < 5));
    row("save a session, slowest", fixed(empty.save_max_ms, 2) + " ms", fixed(full.save_max_ms, 2) + " ms", "", "");
    row("  WAL checkpoints by the store worker during the saves", std::to_string(empty.save_checkpoints),
        std::to_string(full.save_checkpoints), "", "");
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "relais_app_bench: " << error.what() << '\n';
    return 1;
  }
}
