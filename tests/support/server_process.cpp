#include "server_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>

#include <catch2/catch.hpp>

#include "support.hpp"

namespace relais::test {

ServerProcess::ServerProcess(std::string binary, std::filesystem::path db, int port,
                             std::vector<std::string> extra_args) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> words{std::move(binary), "--db", db.string(), "--listen",
                                 "127.0.0.1:" + std::to_string(port)};
  words.insert(words.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(fds[1], STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  reader_ = std::thread([this, fd = fds[0]] {
    char buffer[4096];
    for (;;) {
      const auto n = read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard lock(mutex_);
      if (n <= 0) {
        closed_ = true;
        changed_.notify_all();
        break;
      }
      err_.append(buffer, static_cast<std::size_t>(n));
      changed_.notify_all();
    }
    close(fd);
  });

  const std::string marker = "relais-server listening on 127.0.0.1:";
  std::unique_lock lock(mutex_);
  // A safety net for a server that never starts, not a measure of anything.
  const bool started = changed_.wait_for(lock, std::chrono::seconds(30), [&] {
    const auto at = err_.find(marker);
    return (at != std::string::npos && err_.find('\n', at) != std::string::npos) || closed_;
  });
  const auto at = err_.find(marker);
  if (!started || at == std::string::npos) {
    const auto err = err_;
    lock.unlock();
    kill_hard();
    throw std::runtime_error("relais-server did not start:\n" + err);
  }
  port_ = std::stoi(err_.substr(at + marker.size()));
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) stop();
}

void ServerProcess::wait_for_exit() {
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int ServerProcess::stop() {
  if (pid_ <= 0) return exit_code_;
  kill(pid_, SIGTERM);
  wait_for_exit();
  return exit_code_;
}

void ServerProcess::kill_hard() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  wait_for_exit();
}

std::string ServerProcess::err() {
  std::lock_guard lock(mutex_);
  return err_;
}

std::string server_admin(const std::string& binary, const std::filesystem::path& db, std::vector<std::string> args) {
  std::vector<std::string> argv{binary, "--db", db.string(), "admin"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto result = run_process(argv);
  INFO("relais-server admin " << (args.empty() ? "" : args[0]) << ": exit " << result.exit_code << "\n" << result.err);
  REQUIRE(result.exit_code == 0);
  auto out = result.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace relais::test
