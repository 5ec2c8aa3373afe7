#pragma once
// A real relais-server for end-to-end tests: started on a free loopback port, stopped with
// SIGTERM (or killed with SIGKILL) on demand, and its admin commands.
#include <sys/types.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace relais::test {

class ServerProcess {
 public:
  // Starts `binary --db DB --listen 127.0.0.1:PORT [extra_args...]` (PORT 0: any free port) and
  // returns once the server said where it listens; throws with its stderr when it does not start.
  ServerProcess(std::string binary, std::filesystem::path db, int port = 0, std::vector<std::string> extra_args = {});
  ~ServerProcess();  // SIGTERM if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }  // -1 once it has exited
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int stop();        // SIGTERM; the exit status (128 + signal when killed by one)
  void kill_hard();  // SIGKILL, as a crash or a power cut would
  std::string err();

 private:
  void wait_for_exit();

  pid_t pid_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string err_;
  bool closed_ = false;
};

// `binary --db DB admin args...` that must succeed: what it printed, without the newline.
std::string server_admin(const std::string& binary, const std::filesystem::path& db, std::vector<std::string> args);

}  // namespace relais::test
