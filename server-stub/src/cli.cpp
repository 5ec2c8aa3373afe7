#include "relais/server/cli.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "relais/assets.hpp"
#include "relais/impact.hpp"
#include "relais/server/http.hpp"
#include "relais/server/server_export.hpp"
#include "relais/server/server_store.hpp"

namespace relais::server {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr const char* kUsage =
    "Usage:\n"
    "  relais-server [--db PATH] --listen HOST:PORT [--max-connections N]\n"
    "      serve the sync protocol until SIGTERM or SIGINT (port 0: any free port); past N\n"
    "      connections open at once (default 512), the one idle the longest is closed\n"
    "  relais-server [--db PATH] admin add-structure --name NAME\n"
    "      add a structure; prints its id\n"
    "  relais-server [--db PATH] admin add-user --structure ID --role mediateur|coordinateur|admin --name NAME\n"
    "                                    [--first-name FIRST]\n"
    "      add a user (an advisor) to a structure; prints its id\n"
    "  relais-server [--db PATH] admin enroll-code --user ID\n"
    "      make a one-time enrollment code for a device of this user, valid 7 days; prints it\n"
    "  relais-server [--db PATH] admin revoke-device --device ID\n"
    "      revoke a device's token\n"
    "  relais-server [--db PATH] admin publish-vocabulary FILE\n"
    "      publish a vocabulary update (new codes, new labels) that devices get with their next sync\n"
    "  relais-server [--db PATH] admin reset-epoch\n"
    "      after restoring a backup: a new epoch, so that every device resyncs once\n"
    "  relais-server [--db PATH] export --format csv|xlsx|json --what activities|stats|equipment|impact --out FILE\n"
    "                [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--structure ID] [--advisor ID] [--place ID]\n"
    "                [--type individuel|collectif] [--theme CODE] [--commune X] [--departement X] [--lang fr|en]\n"
    "      export every structure's records (or one structure's) as a file; see docs/exports.md\n"
    "  relais-server --help | --version\n"
    "\n"
    "The store is --db PATH, else /var/lib/relais/server.db when /var/lib/relais is a writable\n"
    "folder, else $XDG_DATA_HOME/relais/server.db (~/.local/share/relais/server.db).\n"
    "See docs/server.md and docs/protocol.md.\n";

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// --name VALUE or --name=VALUE, and positional words; --help and --version take no value.
struct Arguments {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  std::set<std::string> flags;

  Arguments(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      const std::string word = argv[i];
      if (word.rfind("--", 0) != 0 || word == "--") {
        positional.push_back(word);
        continue;
      }
      std::string name = word.substr(2);
      if (name == "help" || name == "version") {
        flags.insert(name);
        continue;
      }
      std::string value;
      if (const auto equals = name.find('='); equals != std::string::npos) {
        value = name.substr(equals + 1);
        name.resize(equals);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        throw UsageError("--" + name + " needs a value (see --help)");
      }
      if (options.count(name) != 0) throw UsageError("--" + name + " is given twice");
      options[name] = value;
    }
  }

  // Refuses options that `command` does not take.
  void allow_only(const std::set<std::string>& allowed, const std::string& command) const {
    for (const auto& [name, value] : options) {
      if (allowed.count(name) == 0) throw UsageError("unknown option --" + name + " for " + command + " (see --help)");
    }
  }

  std::string required(const std::string& name, const std::string& command) const {
    const auto it = options.find(name);
    if (it == options.end() || it->second.empty()) throw UsageError(command + " needs --" + name + " (see --help)");
    return it->second;
  }

  std::optional<std::string> optional(const std::string& name) const {
    const auto it = options.find(name);
    if (it == options.end()) return std::nullopt;
    return it->second;
  }
};

std::filesystem::path default_db_path() {
  const std::filesystem::path system_dir = "/var/lib/relais";
  std::error_code error;
  if (std::filesystem::is_directory(system_dir, error) && access(system_dir.c_str(), W_OK) == 0) {
    return system_dir / "server.db";
  }
  std::filesystem::path base;
  try {
    base = user_data_directory();
  } catch (const std::runtime_error& missing) {
    throw UsageError(missing.what());
  }
  std::filesystem::create_directories(base);
  return base / "server.db";
}

std::filesystem::path db_path(const Arguments& args) {
  const auto given = args.optional("db");
  if (!given) return default_db_path();
  if (given->empty()) throw UsageError("--db needs a path");
  const std::filesystem::path path = *given;
  if (path.has_parent_path() && !std::filesystem::is_directory(path.parent_path())) {
    throw UsageError("--db: no such folder " + path.parent_path().string());
  }
  return path;
}

struct ListenAddress {
  std::string host;
  int port = 0;
};

ListenAddress parse_listen(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw UsageError("--listen takes HOST:PORT, e.g. 127.0.0.1:8080 (not \"" + text + "\")");
  }
  ListenAddress address;
  address.host = text.substr(0, colon);
  if (address.host.size() > 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);  // [::1]:8080
  }
  const auto port = std::string_view(text).substr(colon + 1);
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), address.port);
  if (error != std::errc{} || end != port.data() + port.size() || address.port < 0 || address.port > 65535) {
    throw UsageError("--listen: the port must be a number from 0 to 65535 (not \"" + std::string(port) + "\")");
  }
  return address;
}

// [SECTION] Serving --------------------------------------------------------------------------------
// SIGTERM and SIGINT write one byte to a pipe (write is async-signal-safe); a watcher thread
// reads it and stops the HTTP server, which lets the requests in progress finish.

int g_signal_pipe_write = -1;

extern "C" void on_stop_signal(int) {
  const int saved = errno;
  if (g_signal_pipe_write >= 0) {
    const char byte = 's';
    [[maybe_unused]] const auto written = write(g_signal_pipe_write, &byte, 1);
  }
  errno = saved;
}

HttpLimits parse_limits(const Arguments& args) {
  HttpLimits limits;
  if (const auto text = args.optional("max-connections")) {
    std::size_t count = 0;
    const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), count);
    if (error != std::errc{} || end != text->data() + text->size() || count < 1 || count > 100000) {
      throw UsageError("--max-connections takes a number from 1 to 100000 (not \"" + *text + "\")");
    }
    limits.max_connections = count;
  }
  return limits;
}

int serve(const Arguments& args, const Assets& assets) {
  const auto address = parse_listen(args.required("listen", "serving"));
  const auto limits = parse_limits(args);
  // glibc gives each thread that allocates its own arena and keeps their peaks: with the pool's
  // workers each parsing a push in turn, that was 46 MB after 100,000 records, against 21 MB
  // with two arenas, for the same speed (pushes take the store's lock one at a time anyway).
  mallopt(M_ARENA_MAX, 2);
  ServerStore store(db_path(args), assets.vocabulary, assets.translator);
  const auto factors = ImpactFactors::load_file(assets.directory / "impact_factors.json");
  HttpServer http(store, factors, limits);
  const int port = http.bind(address.host, address.port);

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("cannot create a pipe for signals");
  g_signal_pipe_write = pipe_fds[1];
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  struct sigaction old_term {};
  struct sigaction old_int {};
  sigaction(SIGTERM, &action, &old_term);
  sigaction(SIGINT, &action, &old_int);
  std::signal(SIGPIPE, SIG_IGN);

  std::thread watcher([&http, read_fd = pipe_fds[0]] {
    char byte = 0;
    while (read(read_fd, &byte, 1) < 0 && errno == EINTR) {
    }
    http.stop();
  });

  // Statistics read an index the server brings up to date from the records. After an upgrade
  // (or a long time without a statistics request) that can be every record: done here, in the
  // background, in small transactions, so that the first request does not wait for it.
  std::atomic<bool> stopping{false};
  std::thread statistics([&store, &stopping] {
    try {
      store.refresh_statistics(&stopping);
    } catch (const std::exception& error) {
      std::cerr << "relais-server: statistics index: " << error.what() << " (retried at the next request)\n";
    }
  });

  const bool ipv6 = address.host.find(':') != std::string::npos;
  std::cerr << "relais-server listening on " << (ipv6 ? "[" + address.host + "]" : address.host) << ':' << port
            << std::endl;
  const bool served = http.serve();

  on_stop_signal(0);  // wakes the watcher when serving ended by itself
  watcher.join();
  stopping = true;
  statistics.join();
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGINT, &old_int, nullptr);
  g_signal_pipe_write = -1;
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  if (!served) {
    std::cerr << "relais-server: serving stopped on an error\n";
    return kExitFailure;
  }
  std::cerr << "relais-server stopped\n";
  return kExitOk;
}

// [SECTION] Admin commands ---------------------------------------------------------------------------

int admin(const Arguments& args, const Assets& assets) {
  const bool takes_file = args.positional.size() >= 2 && args.positional[1] == "publish-vocabulary";
  if (args.positional.size() != (takes_file ? 3u : 2u)) {
    if (takes_file) throw UsageError("admin publish-vocabulary takes one file (see --help)");
    throw UsageError(
        "admin takes one command: add-structure, add-user, enroll-code, revoke-device, publish-vocabulary or "
        "reset-epoch (see --help)");
  }
  const auto& command = args.positional[1];
  const std::string name = "admin " + command;
  if (command == "add-structure") {
    args.allow_only({"db", "name"}, name);
    const auto nom = args.required("name", name);
    ServerStore store(db_path(args), assets.vocabulary, assets.translator);
    std::cout << store.add_structure(nom) << '\n';
    return kExitOk;
  }
  if (command == "add-user") {
    args.allow_only({"db", "structure", "role", "name", "first-name"}, name);
    const auto structure = args.required("structure", name);
    const auto role_text = args.required("role", name);
    const auto role = parse_role(role_text);
    if (!role) throw UsageError("--role must be mediateur, coordinateur or admin (not \"" + role_text + "\")");
    const auto nom = args.required("name", name);
    const auto prenom = args.optional("first-name");
    ServerStore store(db_path(args), assets.vocabulary, assets.translator);
    std::cout << store.add_user(structure, *role, nom, prenom && !prenom->empty() ? prenom : std::nullopt) << '\n';
    return kExitOk;
  }
  if (command == "enroll-code") {
    args.allow_only({"db", "user"}, name);
    const auto user = args.required("user", name);
    ServerStore store(db_path(args), assets.vocabulary, assets.translator);
    std::cout << store.make_enroll_code(user) << '\n';
    return kExitOk;
  }
  if (command == "revoke-device") {
    args.allow_only({"db", "device"}, name);
    const auto device = args.required("device", name);
    ServerStore store(db_path(args), assets.vocabulary, assets.translator);
    std::cout << (store.revoke_device(device) ? "revoked device " : "device already revoked: ") << device << '\n';
    return kExitOk;
  }
  if (command == "publish-vocabulary") {
    args.allow_only({"db"}, name);
    const auto& file = args.positional[2];
    std::ifstream in(file);
    if (!in) throw AdminError("cannot read " + file);
    const auto update = nlohmann::json::parse(in, nullptr, false);
    if (update.is_discarded()) throw AdminError(file + " is not valid JSON");
    ServerStore store(db_path(args), assets.vocabulary, assets.translator);
    std::cout << "published vocabulary version " << store.publish_vocabulary(update) << '\n';
    return kExitOk;
  }
  if (command == "reset-epoch") {
    args.allow_only({"db"}, name);
    ServerStore store(db_path(args), assets.vocabulary, assets.translator);
    std::cout << "new epoch " << store.reset_epoch() << ": every device will pull and push everything once\n";
    return kExitOk;
  }
  throw UsageError("unknown admin command \"" + command +
                   "\" (add-structure, add-user, enroll-code, revoke-device, publish-vocabulary or reset-epoch; see "
                   "--help)");
}

// [SECTION] Export ------------------------------------------------------------------------------------

int export_command(const Arguments& args, const Assets& assets) {
  if (args.positional.size() != 1) throw UsageError("export takes options only (see --help)");
  args.allow_only({"db", "format", "what", "out", "from", "to", "structure", "advisor", "place", "type", "theme",
                   "commune", "departement", "lang"},
                  "export");
  const auto out = args.required("out", "export");
  std::map<std::string, std::string> parameters;
  for (const auto& [name, value] : args.options) {
    if (name != "db" && name != "out" && name != "structure") parameters[name] = value;
  }
  ServerStore store(db_path(args), assets.vocabulary, assets.translator);
  ExportRequest request;
  try {
    request = parse_export_request(parameters, store.vocabulary());
  } catch (const ExportParameterError& error) {
    throw UsageError("--" + error.field() + std::string(error.what()).substr(error.field().size()));
  }
  const auto factors = ImpactFactors::load_file(assets.directory / "impact_factors.json");
  exports::ExportInfo info;
  info.exported_by = "relais-server";
  info.role = "admin";
  std::string scope;
  if (const auto structure = args.optional("structure")) {
    const auto name = store.structure_name(*structure);
    if (!name) throw AdminError("--structure: no structure has the id " + *structure);
    scope = *structure;
    info.structure = *name;
  }
  const auto result = export_server_data(store, factors, request, scope, info, out);
  std::cout << result.rows << " rows written to " << out << '\n';
  return kExitOk;
}

}  // namespace

int run_cli(int argc, char** argv) {
  try {
    const Arguments args(argc, argv);
    if (args.flags.count("version") != 0) {
      std::cout << "relais-server " << relais_version() << '\n';
      return kExitOk;
    }
    if (args.flags.count("help") != 0) {
      std::cout << "relais-server " << relais_version() << ": the Relais sync server\n\n" << kUsage;
      return kExitOk;
    }
    const bool serving = args.positional.empty();
    if (!serving && args.positional[0] != "admin" && args.positional[0] != "export") {
      throw UsageError("unknown command \"" + args.positional[0] + "\" (see --help)");
    }
    if (serving) {
      args.allow_only({"db", "listen", "max-connections"}, "serving");
      if (args.options.count("listen") == 0) throw UsageError("give --listen HOST:PORT or an admin command (see --help)");
    }

    std::optional<Assets> assets;
    try {
      assets = Assets::load(find_assets_directory());
    } catch (const std::exception& error) {
      std::cerr << "relais-server: " << error.what() << '\n';
      return kExitFailure;
    }
    try {
      if (serving) return serve(args, *assets);
      return args.positional[0] == "export" ? export_command(args, *assets) : admin(args, *assets);
    } catch (const UsageError&) {
      throw;
    } catch (const AdminError& error) {
      std::cerr << "relais-server: " << error.what() << '\n';
      return kExitUsage;
    } catch (const std::exception& error) {
      std::cerr << "relais-server: " << error.what() << '\n';
      return kExitFailure;
    }
  } catch (const UsageError& error) {
    std::cerr << "relais-server: " << error.what() << '\n';
    return kExitUsage;
  }
}

}  // namespace relais::server
