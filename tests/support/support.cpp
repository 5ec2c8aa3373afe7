#include "support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <catch2/catch.hpp>

#include "relais/i18n.hpp"

extern char** environ;

namespace relais::test {

const Assets& assets() {
  static const Assets loaded = Assets::load(RELAIS_TEST_ASSETS_DIR);
  return loaded;
}

const Vocabulary& vocabulary() { return assets().vocabulary; }

ValidationContext context() { return ValidationContext{vocabulary(), kToday}; }

TempDir::TempDir() {
  std::random_device device;
  const auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = base / ("relais-test-" + std::to_string(device()));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary folder");
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::unique_ptr<LocalStore> open_store(const std::filesystem::path& path) {
  LocalStore::Options options;
  options.today = kToday;
  return std::make_unique<LocalStore>(path, vocabulary(), options);
}

std::string to_text(const Problems& problems) {
  std::string out;
  for (const auto& problem : problems) out += describe(problem, assets().translator, Lang::en) + "\n";
  return out.empty() ? "(no problem)" : out;
}

bool has_problem(const Problems& problems, const std::string& field, const std::string& reason) {
  for (const auto& problem : problems) {
    if (problem.field == field && problem.reason == reason) return true;
  }
  return false;
}

Problems check(RecordKind kind, const nlohmann::json& record) {
  return check_record(kind, record, context()).problems;
}

void require_ok(RecordKind kind, const nlohmann::json& record) {
  const auto problems = check(kind, record);
  INFO(record.dump(2) << "\n" << to_text(problems));
  REQUIRE(problems.empty());
}

void require_only(RecordKind kind, const nlohmann::json& record, const std::string& field, const std::string& reason) {
  const auto problems = check(kind, record);
  INFO("expected " << field << " / " << reason << ", got:\n" << to_text(problems));
  REQUIRE(problems.size() == 1u);
  CHECK(problems[0].field == field);
  CHECK(problems[0].reason == reason);
}

std::string add_ok(LocalStore& store, RecordKind kind, const nlohmann::json& input) {
  auto checked = check_record(kind, input, context());
  INFO(input.dump(2) << "\n" << to_text(checked.problems));
  REQUIRE(checked.ok());
  const auto result = store.add(checked.record);
  INFO(to_text(result.problems));
  REQUIRE(result.ok());
  return result.ids.front();
}

nlohmann::json valid_individual_session_json() {
  return {
      {"type", "individuel"},
      {"date", "2026-11-20"},
      {"duree", 45},
      {"type_lieu", "domicile"},
      {"lieu_commune", "Lyon 1er Arrondissement"},
      {"lieu_code_postal", "69001"},
      {"lieu_code_insee", "69381"},
      {"materiel", {"ordinateur"}},
      {"thematiques", {"email", "aide_aux_demarches_administratives", "logement"}},
      {"autonomie", "partiellement_autonome"},
      {"oriente_vers_structure", true},
      {"structure_de_redirection", "aide_aux_demarches_administratives"},
      {"precisions_demarche", "Demande d’aide personnalisée au logement"},
      {"notes", "Prévoir un second rendez-vous."},
      {"beneficiaire",
       {{"genre", "feminin"},
        {"tranche_age", "soixante_soixante_neuf"},
        {"statut_social", "retraite"},
        {"commune", "Lyon"},
        {"commune_code_postal", "69001"},
        {"commune_code_insee", "69381"}}},
  };
}

nlohmann::json valid_workshop_json() {
  return {
      {"type", "collectif"},
      {"date", "2026-11-18"},
      {"duree", 120},
      {"type_lieu", "autre"},
      {"lieu_commune", "Ajaccio"},
      {"lieu_code_postal", "20000"},
      {"lieu_code_insee", "2A004"},
      {"materiel", {"ordinateur", "tablette"}},
      {"thematiques", {"securite_numerique"}},
      {"titre_atelier", "Reconnaître un message frauduleux"},
      {"niveau", "debutant"},
      {"participants",
       {{"total", 8},
        {"deja_accompagnes", 2},
        {"genre", {{"feminin", 5}, {"masculin", 2}}},
        {"tranche_age", {{"soixante_dix_plus", 4}}},
        {"statut_social", {{"retraite", 6}}}}},
  };
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path.string());
  out << content;
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input,
                          const std::vector<std::string>& extra_env) {
  // A child that exits before reading all its input must not kill the test with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  int in_pipe[2];
  int out_pipe[2];
  int err_pipe[2];
  if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0 || pipe(err_pipe) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(in_pipe[0], STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    for (const auto& assignment : extra_env) putenv(const_cast<char*>(assignment.c_str()));
    std::vector<char*> args;
    for (const auto& word : argv) args.push_back(const_cast<char*>(word.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::fprintf(stderr, "exec %s failed: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);

  // Feed stdin and drain both outputs together so that no pipe fills up and blocks.
  ProcessResult result;
  std::size_t written = 0;
  int in_fd = in_pipe[1];
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  } else {
    fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  bool out_open = true;
  bool err_open = true;
  char buffer[65536];
  while (out_open || err_open || in_fd >= 0) {
    std::vector<pollfd> fds;
    if (out_open) fds.push_back({out_pipe[0], POLLIN, 0});
    if (err_open) fds.push_back({err_pipe[0], POLLIN, 0});
    if (in_fd >= 0) fds.push_back({in_fd, POLLOUT, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (const auto& fd : fds) {
      if (fd.revents == 0) continue;
      if (fd.fd == in_fd) {
        const auto n = write(in_fd, input.data() + written, input.size() - written);
        if (n > 0) written += static_cast<std::size_t>(n);
        if (n < 0 || written == input.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      const auto n = read(fd.fd, buffer, sizeof buffer);
      if (n <= 0) {
        (fd.fd == out_pipe[0] ? out_open : err_open) = false;
      } else {
        (fd.fd == out_pipe[0] ? result.out : result.err).append(buffer, static_cast<std::size_t>(n));
      }
    }
  }
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace relais::test
