// End-to-end sync benchmark: a fresh client store with N journaled sessions pushes them to a
// fresh relais-server over loopback until all are durable there; then a no-op sync. Reports
// records per second, bytes on the wire per record, and the peak memory of both processes.
//
//   relais_sync_bench [--records N] [--dir PATH] [--filled DIR]
//
// --filled DIR keeps a copy of the two stores as they are before the sync (enrolled, N records
// journaled) in DIR, and starts from that copy when it holds N records: a 1,000,000-record run
// then skips the three minutes of filling. The copy is taken with both stores closed.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "relais/assets.hpp"
#include "relais/local_store.hpp"
#include "relais/sync_engine.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string run(const std::vector<std::string>& words) {
  std::string command;
  for (const auto& word : words) command += "'" + word + "' ";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  std::string out;
  char buffer[256];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  if (pclose(pipe) != 0) throw std::runtime_error("failed: " + command);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// CPU time (user + system) a process has used so far, in seconds.
double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name (which is in parentheses and may hold spaces): utime is the
  // 14th field of the line, stime the 15th.
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Peak resident memory (VmHWM) of a process, in MB.
double peak_memory_mb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

struct Server {
  pid_t pid = -1;
  int port = 0;
};

Server start_server(const std::filesystem::path& db, const std::filesystem::path& log) {
  Server server;
  server.pid = fork();
  if (server.pid == 0) {
    std::freopen(log.c_str(), "w", stderr);
    // RELAIS_BENCH_SERVER_WRAP runs the server under a profiler, e.g. "valgrind --tool=callgrind".
    if (const char* wrap = std::getenv("RELAIS_BENCH_SERVER_WRAP"); wrap != nullptr && *wrap != '\0') {
      const std::string command = std::string("exec ") + wrap + " '" RELAIS_BENCH_SERVER_PATH "' --db '" + db.string() +
                                  "' --listen 127.0.0.1:0";
      execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    }
    execl(RELAIS_BENCH_SERVER_PATH, RELAIS_BENCH_SERVER_PATH, "--db", db.c_str(), "--listen", "127.0.0.1:0",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::string marker = "listening on 127.0.0.1:";
  for (int i = 0; i < 300 && server.port == 0; ++i) {
    usleep(20000);
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The line is written in pieces (stderr is unbuffered): read the port once it is whole.
    const auto at = text.find(marker);
    if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
      server.port = std::stoi(text.substr(at + marker.size()));
    }
  }
  if (server.port == 0) throw std::runtime_error("relais-server did not start");
  return server;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A fresh server store with one advisor, and a fresh client store enrolled with it that holds
// `records` journaled sessions, made the way the app makes them (validated, one journal entry
// each). Both are closed on return (the server stopped).
void fill_stores(const std::filesystem::path& server_db, const std::filesystem::path& client_db,
                 const relais::Assets& assets, int records) {
  const auto structure = run({RELAIS_BENCH_SERVER_PATH, "--db", server_db.string(), "admin", "add-structure", "--name", "Bench"});
  const auto user = run({RELAIS_BENCH_SERVER_PATH, "--db", server_db.string(), "admin", "add-user", "--structure", structure,
                         "--role", "mediateur", "--name", "Bench"});
  const auto code = run({RELAIS_BENCH_SERVER_PATH, "--db", server_db.string(), "admin", "enroll-code", "--user", user});
  const auto server = start_server(server_db, server_db.parent_path() / "enroll.log");
  relais::LocalStore store(client_db, assets.vocabulary);
  relais::HttpClientOptions options;
  options.base_url = "http://127.0.0.1:" + std::to_string(server.port);
  const bool enrolled = relais::enroll(store, options, code, "bench").ok;
  kill(server.pid, SIGTERM);
  waitpid(server.pid, nullptr, 0);
  if (!enrolled) throw std::runtime_error("enrollment failed");

  relais::Session session;
  session.type = "individuel";
  session.duree = 45;
  session.type_lieu = "a_distance";
  session.materiel = {"ordinateur"};
  session.thematiques = {"email"};
  session.autonomie = "partiellement_autonome";
  session.beneficiaire = relais::Beneficiaire{};
  for (int done = 0; done < records; done += 1000) {
    std::vector<relais::AnyRecord> batch;
    for (int i = 0; i < 1000 && done + i < records; ++i) {
      session.date = "2026-0" + std::to_string(1 + (done + i) % 9) + "-1" + std::to_string((done + i) % 10);
      session.duree = 15 * (1 + (done + i) % 8);
      batch.emplace_back(session);
    }
    if (!store.add(std::move(batch)).ok()) throw std::runtime_error("could not fill the client store");
  }
}

}  // namespace

int main(int argc, char** argv) {
  int records = 100000;
  std::filesystem::path dir;
  std::filesystem::path filled;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string option = argv[i];
    if (option == "--records") records = std::atoi(argv[i + 1]);
    if (option == "--dir") dir = argv[i + 1];
    if (option == "--filled") filled = argv[i + 1];
  }
  if (dir.empty()) dir = std::filesystem::temp_directory_path() / ("relais-sync-bench-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto assets = relais::Assets::load(RELAIS_BENCH_ASSETS_DIR);
  const auto server_db = dir / "server.db";
  const auto client_db = dir / "client.db";

  const bool reuse = !filled.empty() && std::filesystem::exists(filled / "client.db") &&
                     read_text(filled / "records") == std::to_string(records);
  if (reuse) {
    std::filesystem::copy_file(filled / "client.db", client_db);
    std::filesystem::copy_file(filled / "server.db", server_db);
  } else {
    // Filled by a child process, as records are made by the app before `relais-cli sync`
    // runs: the sync measured starts in a process that did not just make a million records.
    const pid_t filler = fork();
    if (filler == 0) {
      try {
        fill_stores(server_db, client_db, assets, records);
        _exit(0);
      } catch (const std::exception& error) {
        std::fprintf(stderr, "filling the stores failed: %s\n", error.what());
        _exit(1);
      }
    }
    int status = 0;
    if (filler < 0 || waitpid(filler, &status, 0) != filler || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      throw std::runtime_error("could not fill the stores");
    }
    if (!filled.empty()) {
      std::filesystem::remove_all(filled);
      std::filesystem::create_directories(filled);
      std::filesystem::copy_file(client_db, filled / "client.db");
      std::filesystem::copy_file(server_db, filled / "server.db");
      std::ofstream(filled / "records") << records;
    }
  }
  // The filling (or the copy) leaves up to gigabytes for the kernel to write back: written
  // now, so that the writeback does not share the two cores with the sync being measured.
  ::sync();
  const auto server = start_server(server_db, dir / "server.log");
  relais::LocalStore store(client_db, assets.vocabulary);

  relais::SyncEngine engine(store, "http://127.0.0.1:" + std::to_string(server.port));
  const double server_cpu_before = cpu_seconds(server.pid);
  const double client_cpu_before = cpu_seconds(getpid());
  auto start = Clock::now();
  double push_only_s = 0;
  const auto report = engine.run_once([&](const relais::SyncProgress& progress) {
    if (progress.phase == "push") push_only_s = seconds_since(start);
  });
  const double push_s = seconds_since(start);
  const double server_cpu = cpu_seconds(server.pid) - server_cpu_before;
  const double client_cpu = cpu_seconds(getpid()) - client_cpu_before;
  if (!report.ok()) {
    std::cerr << "sync failed: " << report.error << '\n';
    return 1;
  }
  const auto sent = engine.bytes_sent();
  const auto received = engine.bytes_received();

  // A sync with nothing to send and nothing to receive.
  std::vector<double> noop;
  for (int i = 0; i < 20; ++i) {
    start = Clock::now();
    if (!engine.run_once().ok()) return 1;
    noop.push_back(seconds_since(start) * 1000);
  }
  std::sort(noop.begin(), noop.end());

  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("records pushed                 %d\n", records);
  std::printf("push until durable             %.2f s\n", push_s);
  std::printf("  of which the push phase       %.2f s\n", push_only_s);
  std::printf("rate                           %.0f records/s\n", records / push_s);
  std::printf("CPU during the sync: client    %.2f s, server %.2f s\n", client_cpu, server_cpu);
  std::printf("bytes sent per record          %.1f\n", static_cast<double>(sent) / records);
  std::printf("bytes received per record      %.1f\n", static_cast<double>(received) / records);
  std::printf("no-op sync (median of 20)      %.2f ms\n", noop[noop.size() / 2]);
  std::printf("client peak memory             %.1f MB\n", static_cast<double>(usage.ru_maxrss) / 1024.0);
  std::printf("server peak memory             %.1f MB\n", peak_memory_mb(server.pid));

  kill(server.pid, SIGTERM);
  waitpid(server.pid, nullptr, 0);
  if (std::getenv("RELAIS_BENCH_KEEP") == nullptr) std::filesystem::remove_all(dir);
  return 0;
}
