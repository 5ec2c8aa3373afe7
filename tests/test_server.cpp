// End-to-end tests of relais-server: the real binary, started on a free port, set up with its
// admin commands and driven over HTTP as a device would (docs/protocol.md). Each test checks
// the status codes, the JSON answers and what a later pull shows, never how long anything took.
//
// Records are dated in 2026-01 so that they stay valid whatever the calendar says.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "relais/csv.hpp"
#include "relais/server/attempt_throttle.hpp"
#include "relais/server/crypto.hpp"
#include "relais/server/protocol.hpp"
#include "relais/server/server_store.hpp"
#include "relais/sqlite.hpp"
#include "relais/uuid.hpp"
#include "server_process.hpp"
#include "support.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using relais::test::ProcessResult;
using relais::test::TempDir;

// [SECTION] The server process ----------------------------------------------------------------

// Runs `relais-server --db DB args...`.
ProcessResult server_command(const fs::path& db, std::vector<std::string> args) {
  std::vector<std::string> argv{RELAIS_SERVER_PATH, "--db", db.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return relais::test::run_process(argv);
}

// An admin command that must succeed: what it printed, without the newline.
std::string admin(const fs::path& db, std::vector<std::string> args) {
  return relais::test::server_admin(RELAIS_SERVER_PATH, db, std::move(args));
}

// relais-server --listen 127.0.0.1:0 in the background; stopping it (SIGTERM, also done by the
// destructor) must end it cleanly, with exit status 0 and no sanitizer report.
class ServerProcess : public relais::test::ServerProcess {
 public:
  explicit ServerProcess(const fs::path& db) : relais::test::ServerProcess(RELAIS_SERVER_PATH, db) {}
  ~ServerProcess() {
    CHECK(stop() == 0);
    CHECK(err().find("Sanitizer") == std::string::npos);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
};

// [SECTION] HTTP --------------------------------------------------------------------------------

std::string gzip(const std::string& data) {
  z_stream stream{};
  REQUIRE(deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&stream, Z_FINISH) == Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string gunzip(const std::string& data) {
  z_stream stream{};
  REQUIRE(inflateInit2(&stream, 15 + 16) == Z_OK);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buffer[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    rc = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - stream.avail_out);
  }
  inflateEnd(&stream);
  REQUIRE(rc == Z_STREAM_END);
  return out;
}

struct Reply {
  int status = 0;
  std::string raw;
  httplib::Headers headers;
  json body;  // null when the body is not JSON

  std::string error_code() const { return body.is_object() && body.contains("error") ? body["error"].value("code", "") : ""; }
};

std::ostream& operator<<(std::ostream& out, const Reply& reply) {
  return out << "HTTP " << reply.status << " " << reply.raw.substr(0, 2000);
}

// An HTTP client of one server; every request sends Relais-Protocol: 1 unless told otherwise.
class Api {
 public:
  explicit Api(int port) : client_("127.0.0.1", port) {
    client_.set_read_timeout(30, 0);
    client_.set_write_timeout(30, 0);
    client_.set_decompress(false);  // the tests look at what the server really sent
  }

  Reply post(const std::string& path, const std::string& body, const std::string& token = {},
             httplib::Headers headers = {{"Relais-Protocol", "1"}}) {
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return reply(client_.Post(path.c_str(), headers, body, "application/json"));
  }
  Reply post(const std::string& path, const json& body, const std::string& token = {}) {
    return post(path, body.dump(), token);
  }

  Reply get(const std::string& path, const std::string& token = {},
            httplib::Headers headers = {{"Relais-Protocol", "1"}}) {
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return reply(client_.Get(path.c_str(), headers));
  }

 private:
  static Reply reply(const httplib::Result& result) {
    INFO("HTTP error " << httplib::to_string(result.error()));
    REQUIRE(result);
    Reply out;
    out.status = result->status;
    out.headers = result->headers;
    out.raw = result->get_header_value("Content-Encoding") == "gzip" ? gunzip(result->body) : result->body;
    out.body = json::parse(out.raw, nullptr, false);
    if (out.body.is_discarded()) out.body = nullptr;
    return out;
  }

  httplib::Client client_;
};

// [SECTION] Accounts and records ------------------------------------------------------------------

struct Device {
  std::string user_id;
  std::string device_id;
  std::string token;
};

Device enroll(Api& api, const fs::path& db, const std::string& user_id) {
  const auto code = admin(db, {"enroll-code", "--user", user_id});
  Device device{user_id, relais::make_uuid_v7(), ""};
  const auto reply = api.post("/api/v1/enroll", json{{"code", code}, {"device_id", device.device_id}, {"device_name", "PC"}});
  INFO(reply);
  REQUIRE(reply.status == 200);
  device.token = reply.body.at("token").get<std::string>();
  return device;
}

// An individual session at home, valid on any day after 2026-01-10.
json session_fields(int duree = 45) {
  return {{"type", "individuel"},
          {"date", "2026-01-10"},
          {"duree", duree},
          {"type_lieu", "domicile"},
          {"lieu_commune", "Lyon"},
          {"lieu_code_postal", "69001"},
          {"lieu_code_insee", "69381"},
          {"materiel", {"ordinateur"}},
          {"thematiques", {"email"}},
          {"notes", "Prévoir un second rendez-vous."}};
}

json version(std::int64_t clock, const std::string& device) { return json::array({clock, device}); }

// A change setting every field of `fields`, each with the version [clock, device].
json change(const std::string& kind, const std::string& id, const json& fields, std::int64_t clock,
            const std::string& device, const json& bases = json::object()) {
  json versions = json::object();
  for (const auto& item : fields.items()) versions[item.key()] = version(clock, device);
  return {{"kind", kind}, {"id", id}, {"fields", fields}, {"versions", versions}, {"bases", bases}};
}

// (A vector, not a json: nlohmann's json{x} is x itself, not [x].)
using Changes = std::vector<json>;

json push_body(const Device& device, const Changes& changes) {
  return {{"device_id", device.device_id}, {"changes", json(changes)}};
}

Reply push(Api& api, const Device& device, const Changes& changes) {
  return api.post("/api/v1/push", push_body(device, changes), device.token);
}

// The results of a push that must be answered 200.
json push_ok(Api& api, const Device& device, const Changes& changes) {
  const auto reply = push(api, device, changes);
  INFO(reply);
  REQUIRE(reply.status == 200);
  REQUIRE(reply.body.at("results").size() == changes.size());
  return reply.body.at("results");
}

struct Pulled {
  std::map<std::string, json> records;  // by id
  std::string cursor;
};

// Pulls everything after `cursor`, page by page.
Pulled pull_all(Api& api, const Device& device, const std::string& cursor = {}, int limit = 1000) {
  Pulled out;
  out.cursor = cursor;
  for (int page = 0; page < 100; ++page) {
    std::string path = "/api/v1/pull?limit=" + std::to_string(limit);
    if (!out.cursor.empty()) path += "&cursor=" + out.cursor;
    const auto reply = api.get(path, device.token);
    INFO(reply);
    REQUIRE(reply.status == 200);
    for (const auto& record : reply.body.at("records")) out.records[record.at("id").get<std::string>()] = record;
    out.cursor = reply.body.at("cursor").get<std::string>();
    if (!reply.body.at("more").get<bool>()) return out;
  }
  FAIL("pull never ended");
  return out;
}

bool has(const Pulled& pulled, const std::string& id) { return pulled.records.count(id) != 0; }

std::size_t count_rows(const fs::path& db, const std::string& sql) {
  relais::sqlite::Database database(db, relais::sqlite::Database::Mode::read_only);
  return static_cast<std::size_t>(database.query_int64(sql));
}

// One structure with one advisor, enrolled on one device, and the server running.
struct OneAdvisor {
  TempDir dir;
  fs::path db = dir / "server.db";
  std::string structure = admin(db, {"add-structure", "--name", "France Services Villeurbanne"});
  std::string user = admin(db, {"add-user", "--structure", structure, "--role", "mediateur", "--name", "Benali",
                                "--first-name", "Samia"});
  std::unique_ptr<ServerProcess> server = std::make_unique<ServerProcess>(db);
  Api api{server->port()};
  Device device = enroll(api, db, user);
  // A second device of the advisor: a device does not pull back what it pushed, this one does.
  Device reader = enroll(api, db, user);
};

}  // namespace

// [SECTION] Cursors, tokens and codes (in-process) ----------------------------------------------------

TEST_CASE("Cursors and tokens and enrollment codes are well formed", "[server]") {
  using namespace relais::server;
  const Cursor cursor{"0193a5c0-0000-7000-8000-00000000a001", 123456789012};
  const auto text = encode_cursor(cursor);
  CHECK(std::regex_match(text, std::regex("[A-Za-z0-9_-]{32}")));
  const auto back = decode_cursor(text);
  REQUIRE(back);
  CHECK(back->epoch == cursor.epoch);
  CHECK(back->seq == cursor.seq);
  CHECK_FALSE(decode_cursor("not a cursor"));
  CHECK_FALSE(decode_cursor(text.substr(1)));
  CHECK_FALSE(decode_cursor(text + "AAAA"));
  CHECK_FALSE(decode_cursor(""));

  std::string bytes;
  for (const std::string sample : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xfb\xff"}) {
    INFO(sample);
    CHECK(base64url_decode(base64url_encode(sample), bytes));
    CHECK(bytes == sample);
  }
  CHECK(base64url_encode("\xfb\xff") == "-_8");
  CHECK_FALSE(base64url_decode("-_9", bytes));  // non-zero padding bits: not a canonical encoding
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  const auto token = make_device_token();
  CHECK(std::regex_match(token, std::regex("rls_[A-Za-z0-9_-]{43}")));
  CHECK(token != make_device_token());
  const auto code = make_enroll_code();
  CHECK(normalize_enroll_code(code).size() == 12);
  CHECK(normalize_enroll_code("k7qf-2m9d-xw4p") == "K7QF2M9DXW4P");
  CHECK(normalize_enroll_code("KOQF ILLD XW4P") == "K0QF111DXW4P");
  CHECK(normalize_enroll_code("K7QF-2M9D-XW4U").empty());  // U is not in the alphabet
  CHECK(normalize_enroll_code("K7QF-2M9D").empty());
}

TEST_CASE("An enrollment request with an empty or upper-case device_id is refused", "[server]") {
  // Found by fuzz_enroll (tests/fuzz): "" was taken for a device id, as it was not checked.
  using namespace relais::server;
  const auto problems_of = [](const std::string& body) {
    try {
      parse_enroll(body);
    } catch (const ApiError& error) {
      CHECK(error.status() == 400);
      return error.problems();
    }
    FAIL("parse_enroll accepted " << body);
    return nlohmann::json();
  };
  const auto only_problem = [&](const std::string& body, const std::string& reason) {
    INFO(body);
    const auto problems = problems_of(body);
    REQUIRE(problems.size() == 1u);
    CHECK(problems[0]["field"] == "device_id");
    CHECK(problems[0]["reason"] == reason);
  };
  only_problem(R"({"code": "K7QF-2M9D-XW4P", "device_id": ""})", "invalid_id");
  only_problem(R"({"code": "K7QF-2M9D-XW4P", "device_id": "0193A5C0-0000-7000-8000-000000000D01"})", "invalid_id");
  only_problem(R"({"code": "K7QF-2M9D-XW4P"})", "required");
  only_problem(R"({"code": "K7QF-2M9D-XW4P", "device_id": 7})", "wrong_type");
  const auto request = parse_enroll(R"({"code": "K7QF-2M9D-XW4P", "device_id": "0193a5c0-0000-7000-8000-000000000d01"})");
  CHECK(request.device_id == "0193a5c0-0000-7000-8000-000000000d01");
  CHECK(request.device_name.empty());
}

// [SECTION] Command line ----------------------------------------------------------------------------

TEST_CASE("relais-server --version and --help work and bad arguments exit 2 with one line", "[server]") {
  TempDir dir;
  const auto db = dir / "server.db";

  const auto version_result = relais::test::run_process({RELAIS_SERVER_PATH, "--version"});
  CHECK(version_result.exit_code == 0);
  CHECK(version_result.out.rfind("relais-server ", 0) == 0);
  const auto help = relais::test::run_process({RELAIS_SERVER_PATH, "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("admin enroll-code --user ID") != std::string::npos);

  const auto structure = admin(db, {"add-structure", "--name", "Médiathèque"});
  const auto user = admin(db, {"add-user", "--structure", structure, "--role", "coordinateur", "--name", "Martin"});
  CHECK(relais::is_uuid(structure));
  CHECK(relais::is_uuid(user));
  CHECK(std::regex_match(admin(db, {"enroll-code", "--user", user}),
                         std::regex("[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")));

  const std::vector<std::vector<std::string>> bad{
      {},
      {"--listen"},
      {"--listen", "localhost"},
      {"--listen", "127.0.0.1:99999"},
      {"--frobnicate", "1"},
      {"serve"},
      {"admin"},
      {"admin", "delete-everything"},
      {"admin", "add-structure"},
      {"admin", "add-structure", "--name", "X", "--role", "admin"},
      {"admin", "add-user", "--structure", structure, "--role", "chef", "--name", "X"},
      {"admin", "add-user", "--structure", "0193a5c0-0000-7000-8000-000000000000", "--role", "admin", "--name", "X"},
      {"admin", "add-user", "--structure", structure, "--role", "admin"},
      {"admin", "enroll-code", "--user", "0193a5c0-0000-7000-8000-000000000000"},
      {"admin", "revoke-device", "--device", "0193a5c0-0000-7000-8000-000000000000"},
      {"admin", "reset-epoch", "--name", "X"},
  };
  for (const auto& args : bad) {
    const auto result = server_command(db, args);
    std::string line;
    for (const auto& word : args) line += word + " ";
    INFO("relais-server " << line << "\n" << result.err);
    CHECK(result.exit_code == 2);
    CHECK(result.out.empty());
    CHECK(result.err.rfind("relais-server: ", 0) == 0);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  }
  // Only the two good add commands wrote anything.
  CHECK(count_rows(db, "SELECT count(*) FROM users") == 1);
  CHECK(count_rows(db, "SELECT count(*) FROM structures") == 1);
}

// [SECTION] Health and enrollment ---------------------------------------------------------------------

TEST_CASE("The health check answers and an enrollment code works once", "[server]") {
  TempDir dir;
  const auto db = dir / "server.db";
  const auto structure = admin(db, {"add-structure", "--name", "France Services Villeurbanne"});
  const auto user = admin(db, {"add-user", "--structure", structure, "--role", "mediateur", "--name", "Benali",
                               "--first-name", "Samia"});
  const auto code = admin(db, {"enroll-code", "--user", user});
  ServerProcess server(db);
  Api api(server.port());

  const auto health = api.get("/healthz", {}, {});
  CHECK(health.status == 200);
  CHECK(health.body == json{{"status", "ok"}, {"schema", 4}});

  const auto device_id = relais::make_uuid_v7();
  const json request = {{"code", code}, {"device_id", device_id}, {"device_name", "Portable de Samia"}};

  SECTION("a good code gives a token and the user, once") {
    const auto enrolled = api.post("/api/v1/enroll", request);
    INFO(enrolled);
    REQUIRE(enrolled.status == 200);
    const auto token = enrolled.body.at("token").get<std::string>();
    CHECK(std::regex_match(token, std::regex("rls_[A-Za-z0-9_-]{43}")));
    CHECK(enrolled.body.at("user") == json{{"id", user},
                                           {"nom", "Benali"},
                                           {"prenom", "Samia"},
                                           {"role", "mediateur"},
                                           {"structure_id", structure}});
    CHECK(relais::parse_timestamp_utc(enrolled.body.at("server_time").get<std::string>()).has_value());
    // The store keeps only the token's SHA-256.
    CHECK(count_rows(db, "SELECT count(*) FROM devices WHERE length(token_sha256) = 64 AND token_sha256 NOT LIKE 'rls_%'") == 1);
    CHECK(count_rows(db, "SELECT count(*) FROM devices WHERE token_sha256 = '" + token + "'") == 0);
    Device device{user, device_id, token};
    CHECK(pull_all(api, device).records.count(user) == 1);  // the token works

    const auto again = api.post("/api/v1/enroll", request);
    CHECK(again.status == 401);
    CHECK(again.error_code() == "enrollment_failed");
    const auto other_device = api.post(
        "/api/v1/enroll", json{{"code", code}, {"device_id", relais::make_uuid_v7()}, {"device_name", "Autre"}});
    CHECK(other_device.status == 401);

    // Enrolling again with the same device id (a new code) replaces the token.
    const auto second = api.post("/api/v1/enroll", json{{"code", admin(db, {"enroll-code", "--user", user})},
                                                        {"device_id", device_id}});
    REQUIRE(second.status == 200);
    CHECK(second.body.at("token") != token);
    CHECK(api.get("/api/v1/pull", token).status == 401);
    CHECK(api.get("/api/v1/pull", second.body.at("token").get<std::string>()).status == 200);
  }

  SECTION("a code is accepted typed in lower case, with o for 0, l for 1 and without dashes") {
    std::string typed;
    for (const char ch : code) {
      if (ch == '-') continue;
      typed += ch == '0' ? 'o' : ch == '1' ? 'l' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    const auto enrolled = api.post("/api/v1/enroll", json{{"code", typed}, {"device_id", device_id}});
    INFO(enrolled);
    CHECK(enrolled.status == 200);
  }

  SECTION("unknown or malformed codes and bad requests are refused") {
    for (const auto* wrong : {"AAAA-BBBB-CCCC", "", "K7QF", "not a code at all"}) {
      const auto reply = api.post("/api/v1/enroll", json{{"code", wrong}, {"device_id", device_id}});
      INFO(wrong << ": " << reply);
      CHECK(reply.status == 401);
      CHECK(reply.error_code() == "enrollment_failed");
    }
    const auto not_json = api.post("/api/v1/enroll", std::string("{\"code\": "));
    CHECK(not_json.status == 400);
    CHECK(not_json.error_code() == "invalid_json");
    const auto bad_device = api.post("/api/v1/enroll", json{{"code", code}, {"device_id", "PC-1"}});
    CHECK(bad_device.status == 400);
    CHECK(bad_device.error_code() == "invalid_request");
    CHECK(bad_device.body["error"]["problems"][0]["field"] == "device_id");
    const auto no_header = api.post("/api/v1/enroll", request.dump(), {}, {});
    CHECK(no_header.status == 426);
    CHECK(no_header.error_code() == "unsupported_protocol");
    // None of these used the code.
    CHECK(api.post("/api/v1/enroll", request).status == 200);
  }
}

// [SECTION] Authentication and scope --------------------------------------------------------------------

TEST_CASE("Tokens are required and each role reads and writes only its scope", "[server]") {
  TempDir dir;
  const auto db = dir / "server.db";
  const auto structure_a = admin(db, {"add-structure", "--name", "France Services Villeurbanne"});
  const auto structure_b = admin(db, {"add-structure", "--name", "Médiathèque de Bron"});
  const auto user = [&](const std::string& structure, const std::string& role, const std::string& name) {
    return admin(db, {"add-user", "--structure", structure, "--role", role, "--name", name});
  };
  const auto advisor_a1 = user(structure_a, "mediateur", "Benali");
  const auto advisor_a2 = user(structure_a, "mediateur", "Durand");
  const auto coordinator_a = user(structure_a, "coordinateur", "Martin");
  const auto coordinator_b = user(structure_b, "coordinateur", "Petit");
  const auto administrator = user(structure_b, "admin", "Admin");
  ServerProcess server(db);
  Api api(server.port());
  const auto a1 = enroll(api, db, advisor_a1);
  const auto a2 = enroll(api, db, advisor_a2);
  const auto coord_a = enroll(api, db, coordinator_a);
  const auto coord_b = enroll(api, db, coordinator_b);
  const auto admin_device = enroll(api, db, administrator);
  // Second devices of the advisors: a device does not pull back what it pushed itself.
  const auto a1_reader = enroll(api, db, advisor_a1);
  const auto a2_reader = enroll(api, db, advisor_a2);

  const auto session_a1 = relais::make_uuid_v7();
  const auto session_a2 = relais::make_uuid_v7();
  CHECK(push_ok(api, a1, {change("session", session_a1, session_fields(45), 100, a1.device_id)})[0]["status"] == "applied");
  CHECK(push_ok(api, a2, {change("session", session_a2, session_fields(30), 100, a2.device_id)})[0]["status"] == "applied");

  SECTION("calls without a valid token are refused with 401") {
    const auto body = push_body(a1, {change("session", relais::make_uuid_v7(), session_fields(), 200, a1.device_id)});
    for (const auto* token : {"", "rls_not-a-token", "Bearer"}) {
      INFO("token \"" << token << "\"");
      const auto pushed = api.post("/api/v1/push", body, token);
      CHECK(pushed.status == 401);
      CHECK(pushed.error_code() == "unauthorized");
      CHECK(api.get("/api/v1/pull", token).status == 401);
    }
    const auto wrong_scheme = api.get("/api/v1/pull", {}, {{"Relais-Protocol", "1"}, {"Authorization", "Basic " + a1.token}});
    CHECK(wrong_scheme.status == 401);
    // A device cannot push in another device's name.
    const auto impostor = api.post("/api/v1/push", body, a2.token);
    CHECK(impostor.status == 400);
    CHECK(impostor.body["error"]["problems"][0]["field"] == "device_id");
    CHECK(count_rows(db, "SELECT count(*) FROM records WHERE kind = 'session'") == 2);
  }

  SECTION("a revoked device is refused") {
    CHECK(admin(db, {"revoke-device", "--device", a1.device_id}).find("revoked") != std::string::npos);
    const auto pulled = api.get("/api/v1/pull", a1.token);
    CHECK(pulled.status == 401);
    CHECK(pulled.error_code() == "unauthorized");
    const auto pushed = push(api, a1, {change("session", session_a1, {{"duree", 50}}, 300, a1.device_id)});
    CHECK(pushed.status == 401);
    // Other devices go on working.
    CHECK(api.get("/api/v1/pull", a2.token).status == 200);
  }

  SECTION("an advisor pulls its own records and its structure's reference data only") {
    const auto pulled = pull_all(api, a1_reader);
    CHECK(has(pulled, session_a1));
    CHECK_FALSE(has(pulled, session_a2));
    CHECK(pulled.records.at(session_a1)["mediateur_id"] == advisor_a1);
    CHECK(pulled.records.at(session_a1)["fields"] == session_fields(45));
    CHECK(has(pulled, structure_a));
    CHECK(has(pulled, advisor_a2));
    CHECK(has(pulled, coordinator_a));
    CHECK_FALSE(has(pulled, structure_b));
    CHECK_FALSE(has(pulled, coordinator_b));
    CHECK(pulled.records.at(advisor_a2)["kind"] == "advisor");
    CHECK(pulled.records.at(advisor_a2)["fields"]["role"] == "mediateur");
  }

  SECTION("an advisor cannot change another advisor's record") {
    const auto results =
        push_ok(api, a1, {change("session", session_a2, {{"duree", 999}}, 200, a1.device_id),
                          change("session", session_a2, {{"_deleted", true}}, 201, a1.device_id)});
    for (const auto& result : results) {
      CHECK(result["status"] == "rejected");
      CHECK(result["problems"][0]["reason"] == "forbidden");
    }
    const auto pulled = pull_all(api, a2_reader);
    CHECK(pulled.records.at(session_a2)["fields"]["duree"] == 30);
    CHECK(pulled.records.at(session_a2)["deleted"] == false);
  }

  SECTION("a coordinator reads the whole structure but changes only its own records") {
    const auto pulled = pull_all(api, coord_a);
    CHECK(has(pulled, session_a1));
    CHECK(has(pulled, session_a2));
    CHECK(has(pulled, structure_a));
    CHECK_FALSE(has(pulled, structure_b));
    const auto results = push_ok(api, coord_a, {change("session", session_a1, {{"duree", 90}}, 200, coord_a.device_id)});
    CHECK(results[0]["status"] == "rejected");
    CHECK(results[0]["problems"][0]["reason"] == "forbidden");
    CHECK(pull_all(api, a1_reader).records.at(session_a1)["fields"]["duree"] == 45);

    const auto own = relais::make_uuid_v7();
    CHECK(push_ok(api, coord_a, {change("session", own, session_fields(), 200, coord_a.device_id)})[0]["status"] ==
          "applied");
    CHECK_FALSE(has(pull_all(api, a1_reader), own));
  }

  SECTION("a coordinator of another structure sees none of it") {
    const auto pulled = pull_all(api, coord_b);
    CHECK_FALSE(has(pulled, session_a1));
    CHECK_FALSE(has(pulled, session_a2));
    CHECK_FALSE(has(pulled, structure_a));
    CHECK_FALSE(has(pulled, advisor_a1));
    CHECK(has(pulled, structure_b));
  }

  SECTION("an administrator sees everything; only administrators change reference data") {
    const auto pulled = pull_all(api, admin_device);
    for (const auto& id : {session_a1, session_a2, structure_a, structure_b, advisor_a1, coordinator_b}) {
      INFO(id);
      CHECK(has(pulled, id));
    }
    const json place = {{"nom", "Médiathèque Jean-Macé"}, {"commune", "Villeurbanne"}, {"code_postal", "69100"}};
    const auto place_id = relais::make_uuid_v7();
    const auto refused = push_ok(api, a1, {change("place", place_id, place, 300, a1.device_id),
                                           change("structure", structure_a, {{"nom", "Autre nom"}}, 300, a1.device_id)});
    CHECK(refused[0]["status"] == "rejected");
    CHECK(refused[0]["problems"][0]["reason"] == "forbidden");
    CHECK(refused[1]["status"] == "rejected");
    CHECK(refused[1]["problems"][0]["reason"] == "forbidden");

    const auto accepted = push_ok(api, admin_device, {change("place", place_id, place, 300, admin_device.device_id)});
    CHECK(accepted[0]["status"] == "applied");
    // Places are everyone's.
    CHECK(has(pull_all(api, a1_reader), place_id));
    CHECK(has(pull_all(api, coord_b), place_id));
    CHECK(pull_all(api, a1_reader).records.at(structure_a)["fields"]["nom"] == "France Services Villeurbanne");
  }
}

// [SECTION] Push and pull -------------------------------------------------------------------------------

TEST_CASE("Pushed records reach the other devices through pull and a resent push changes nothing", "[server]") {
  OneAdvisor world;
  auto& api = world.api;
  const auto& device = world.device;
  const auto& reader = world.reader;
  const auto first = relais::make_uuid_v7();
  const auto second = relais::make_uuid_v7();
  const Changes changes = {change("session", first, session_fields(45), 1000, device.device_id),
                        change("session", second, session_fields(60), 1001, device.device_id)};

  const auto start = pull_all(world.api, reader);
  const auto results = push_ok(api, device, changes);
  CHECK(results == json{{{"id", first}, {"status", "applied"}, {"version", version(1000, device.device_id)}},
                        {{"id", second}, {"status", "applied"}, {"version", version(1001, device.device_id)}}});

  const auto pulled = pull_all(api, reader, start.cursor);
  REQUIRE(pulled.records.size() == 2);
  const auto& record = pulled.records.at(first);
  CHECK(record["kind"] == "session");
  CHECK(record["fields"] == session_fields(45));
  CHECK(record["versions"] == changes[0]["versions"]);
  CHECK(record["deleted"] == false);
  CHECK(record["mediateur_id"] == world.user);

  // The same push again: the same results, and no new change to pull.
  CHECK(push_ok(api, device, changes) == results);
  CHECK(push_ok(api, device, {changes[1]})[0] == results[1]);
  const auto after_resend = pull_all(api, reader, pulled.cursor);
  CHECK(after_resend.records.empty());
  CHECK(after_resend.cursor == pulled.cursor);

  // An update of one field, then a deletion, come back through pull.
  const auto updated = push_ok(api, device,
                               {{{"kind", "session"},
                                 {"id", first},
                                 {"fields", {{"duree", 50}, {"notes", nullptr}}},
                                 {"versions", {{"duree", version(2000, device.device_id)}, {"notes", version(2000, device.device_id)}}},
                                 {"bases", {{"duree", version(1000, device.device_id)}, {"notes", version(1000, device.device_id)}}}},
                                change("session", second, {{"_deleted", true}}, 2001, device.device_id)});
  CHECK(updated[0]["status"] == "applied");
  CHECK(updated[1]["status"] == "applied");
  const auto changed = pull_all(api, reader, pulled.cursor);
  REQUIRE(changed.records.size() == 2);
  auto expected = session_fields(50);
  expected.erase("notes");
  CHECK(changed.records.at(first)["fields"] == expected);
  CHECK(changed.records.at(first)["versions"]["duree"] == version(2000, device.device_id));
  CHECK(changed.records.at(first)["versions"]["date"] == version(1000, device.device_id));
  CHECK(changed.records.at(second)["deleted"] == true);
  CHECK(changed.records.at(second)["fields"]["duree"] == 60);

  // The creations sent again after those changes (an answer lost long ago): the answers they
  // got then, nothing changes, and no conflict is logged.
  CHECK(push_ok(api, device, changes) == results);
  CHECK(pull_all(api, reader, changed.cursor).records.empty());
  CHECK(count_rows(world.db, "SELECT count(*) FROM conflicts") == 0);
  CHECK(count_rows(world.db, "SELECT count(*) FROM push_results WHERE record_id = '" + first + "'") == 1);

  SECTION("a new record may carry one version, \"*\", for all its fields, as it is stored") {
    const auto id = relais::make_uuid_v7();
    const json whole = {{"kind", "session"},
                        {"id", id},
                        {"fields", session_fields(30)},
                        {"versions", {{"*", version(3000, device.device_id)}}}};
    const auto applied = push_ok(api, device, {whole});
    CHECK(applied[0] == json{{"id", id}, {"status", "applied"}, {"version", version(3000, device.device_id)}});
    const auto stored = pull_all(api, reader, changed.cursor).records.at(id);
    CHECK(stored["fields"] == session_fields(30));
    CHECK(stored["versions"] == json{{"*", version(3000, device.device_id)}});
    // "*" names no field; a version for a field that is not sent is still refused.
    auto stray = whole;
    stray["id"] = relais::make_uuid_v7();
    stray["versions"]["lieu_id"] = version(3000, device.device_id);
    const auto refused = push(api, device, {stray});
    CHECK(refused.status == 400);
    CHECK(refused.body["error"]["problems"][0]["field"] == "changes[0].versions.lieu_id");
  }

  SECTION("pages of `limit` records, oldest change first, with `more`") {
    const auto page = world.api.get("/api/v1/pull?limit=1&cursor=" + start.cursor, reader.token);
    REQUIRE(page.status == 200);
    CHECK(page.body["records"].size() == 1);
    CHECK(page.body["more"] == true);
    const auto all = pull_all(api, reader, start.cursor, 1);
    CHECK(all.records.size() == 2);
    CHECK(all.cursor == changed.cursor);
    for (const auto* limit : {"0", "-1", "ten", "1.5"}) {
      const auto refused = world.api.get(std::string("/api/v1/pull?limit=") + limit, device.token);
      INFO(limit);
      CHECK(refused.status == 400);
      CHECK(refused.error_code() == "invalid_request");
    }
  }

  SECTION("a cursor that is not this store's is refused") {
    const auto garbage = world.api.get("/api/v1/pull?cursor=not-a-cursor", device.token);
    CHECK(garbage.status == 400);
    CHECK(garbage.error_code() == "invalid_request");
    // Another epoch (the first characters carry the store's epoch): the device must resync.
    auto other = changed.cursor;
    other[0] = other[0] == 'A' ? 'B' : 'A';
    const auto stale = world.api.get("/api/v1/pull?cursor=" + other, reader.token);
    INFO(stale);
    CHECK(stale.status == 410);
    CHECK(stale.error_code() == "resync_required");
  }
}

TEST_CASE("A device does not pull back what it pushed, but does pull what another device merged into it",
          "[server]") {
  OneAdvisor world;
  auto& api = world.api;
  const auto& laptop = world.device;
  const auto phone = enroll(api, world.db, world.user);
  const auto start = pull_all(api, laptop).cursor;

  const auto mine = relais::make_uuid_v7();
  const auto shared = relais::make_uuid_v7();
  push_ok(api, laptop, {change("session", mine, session_fields(45), 1000, laptop.device_id),
                        change("session", shared, session_fields(60), 1001, laptop.device_id)});
  // Only the laptop's versions: nothing to send back to it; the phone gets both.
  const auto own = pull_all(api, laptop, start);
  CHECK(own.records.empty());
  CHECK(pull_all(api, phone, start).records.size() == 2);

  // The phone changes one field of `shared`: the merged record holds the phone's version, so the
  // laptop pulls it whole, its own fields included; `mine` still does not come back.
  push_ok(api, phone, {change("session", shared, {{"duree", 90}}, 1100, phone.device_id,
                              {{"duree", version(1001, laptop.device_id)}})});
  const auto merged = pull_all(api, laptop, own.cursor);
  REQUIRE(merged.records.size() == 1);
  CHECK(merged.records.at(shared)["fields"]["duree"] == 90);
  CHECK(merged.records.at(shared)["fields"]["notes"] == session_fields()["notes"]);
  CHECK(merged.records.at(shared)["versions"]["duree"] == version(1100, phone.device_id));

  // The laptop then changes the phone's field back: every version is the laptop's again, yet
  // it is one change after the phone's, which the laptop already has: nothing to pull.
  push_ok(api, laptop, {change("session", shared, {{"duree", 30}}, 1200, laptop.device_id,
                               {{"duree", version(1100, phone.device_id)}})});
  CHECK(pull_all(api, laptop, merged.cursor).records.empty());
  CHECK(pull_all(api, phone, start).records.at(shared)["fields"]["duree"] == 30);
}

TEST_CASE("A record that breaks the rules is rejected with its problems and the others are stored",
          "[server]") {
  OneAdvisor world;
  auto& api = world.api;
  const auto& device = world.device;
  const auto good = relais::make_uuid_v7();
  const auto bad = relais::make_uuid_v7();
  const auto also_good = relais::make_uuid_v7();
  auto invalid = session_fields();
  invalid["thematiques"] = {"jardinage"};
  invalid["duree"] = 0;

  const auto results = push_ok(api, device,
                               {change("session", good, session_fields(), 100, device.device_id),
                                change("session", bad, invalid, 100, device.device_id),
                                change("session", also_good, session_fields(), 100, device.device_id)});
  CHECK(results[0]["status"] == "applied");
  CHECK(results[2]["status"] == "applied");
  REQUIRE(results[1]["status"] == "rejected");
  CHECK(results[1]["id"] == bad);
  const auto& problems = results[1]["problems"];
  INFO(problems.dump(2));
  REQUIRE(problems.size() == 2);
  std::map<std::string, json> by_field;
  for (const auto& problem : problems) by_field[problem["field"].get<std::string>()] = problem;
  REQUIRE(by_field.count("thematiques[0]") == 1);
  CHECK(by_field["thematiques[0]"]["reason"] == "unknown_code");
  CHECK(by_field["thematiques[0]"]["message"].get<std::string>().find("thematiques[0] : ") == 0);
  REQUIRE(by_field.count("duree") == 1);
  CHECK(by_field["duree"]["message"] == "duree : doit être compris entre 1 et 1439 (reçu 0)");

  const auto pulled = pull_all(api, world.reader);
  CHECK(has(pulled, good));
  CHECK(has(pulled, also_good));
  CHECK_FALSE(has(pulled, bad));
  CHECK(count_rows(world.db, "SELECT count(*) FROM records WHERE id = '" + bad + "'") == 0);
  CHECK(count_rows(world.db, "SELECT count(*) FROM push_results WHERE record_id = '" + bad + "'") == 0);

  // A change that would make a stored record invalid is rejected; the record stays as it was.
  const auto update = push_ok(api, device,
                              {change("session", good, {{"duree", 5000}}, 200, device.device_id,
                                      {{"duree", version(100, device.device_id)}}),
                               change("lot", good, {{"date", "2026-01-10"}, {"type_donateur", "entreprise"}}, 200,
                                      device.device_id)});
  CHECK(update[0]["status"] == "rejected");
  CHECK(update[0]["problems"][0]["field"] == "duree");
  CHECK(update[1]["status"] == "rejected");
  CHECK(update[1]["problems"][0]["reason"] == "wrong_kind");
  const auto after = pull_all(api, world.reader, pulled.cursor);
  CHECK(after.records.empty());
  CHECK(pull_all(api, world.reader).records.at(good)["fields"]["duree"] == 45);

  // A deletion alone is never refused, and a deleted record can be restored only whole.
  CHECK(push_ok(api, device, {change("session", good, {{"_deleted", true}}, 300, device.device_id)})[0]["status"] ==
        "applied");
  CHECK(pull_all(api, world.reader).records.at(good)["deleted"] == true);
}

// [SECTION] Vocabulary updates ---------------------------------------------------------------------

TEST_CASE("A published vocabulary update reaches every device once and validates pushes at once", "[server]") {
  OneAdvisor world;
  auto& api = world.api;
  const auto write = [&](const std::string& name, const json& content) {
    const auto path = world.dir / name;
    std::ofstream(path) << content.dump();
    return path.string();
  };
  json update = {{"version", 1},
                 {"sets",
                  {{"thematiques",
                    {{"codes", {{{"code", "objets_connectes"}, {"fr", "Objets connectés"},
                                 {"en", "Connected devices"}}}}}}}}};
  auto fields = session_fields();
  fields["thematiques"] = {"objets_connectes"};
  const auto id = relais::make_uuid_v7();
  const auto before = push_ok(api, world.device, {change("session", id, fields, 100, world.device.device_id)});
  CHECK(before[0]["status"] == "rejected");
  CHECK(before[0]["problems"][0]["reason"] == "unknown_code");
  const auto start = api.get("/api/v1/pull", world.reader.token);
  REQUIRE(start.status == 200);
  CHECK_FALSE(start.body.contains("vocabulary"));

  // Refused whole, in one line naming the field: a set that does not exist, a file that is not JSON.
  auto bad = update;
  bad["sets"]["couleurs"] = {{"codes", json::array()}};
  const auto refused = server_command(world.db, {"admin", "publish-vocabulary", write("bad.json", bad)});
  CHECK(refused.exit_code == 2);
  CHECK(refused.err == "relais-server: vocabulary update: sets.couleurs: no such vocabulary set\n");
  std::ofstream(world.dir / "broken.json") << "{\"version\": ";
  CHECK(server_command(world.db, {"admin", "publish-vocabulary", (world.dir / "broken.json").string()}).exit_code == 2);
  CHECK(server_command(world.db, {"admin", "publish-vocabulary"}).exit_code == 2);

  CHECK(admin(world.db, {"publish-vocabulary", write("v1.json", update)}) == "published vocabulary version 1");
  // The running server checks pushes with it at once.
  CHECK(push_ok(api, world.device, {change("session", id, fields, 100, world.device.device_id)})[0]["status"] ==
        "applied");
  // Every device gets it once, beside the records; the same version cannot be published again.
  const auto pulled = api.get("/api/v1/pull?cursor=" + start.body["cursor"].get<std::string>(), world.reader.token);
  REQUIRE(pulled.status == 200);
  CHECK(pulled.body["vocabulary"] == update);
  CHECK(pulled.body["records"].size() == 1);
  CHECK(api.get("/api/v1/pull", world.device.token).body["vocabulary"] == update);
  const auto again = api.get("/api/v1/pull?cursor=" + pulled.body["cursor"].get<std::string>(), world.reader.token);
  CHECK_FALSE(again.body.contains("vocabulary"));
  const auto same = server_command(world.db, {"admin", "publish-vocabulary", write("v1-again.json", update)});
  CHECK(same.exit_code == 2);
  CHECK(same.err == "relais-server: vocabulary update: version 1 is not above the published version 1\n");
  update["version"] = 2;
  CHECK(admin(world.db, {"publish-vocabulary", write("v2.json", update)}) == "published vocabulary version 2");
  const auto newer = api.get("/api/v1/pull?cursor=" + pulled.body["cursor"].get<std::string>(), world.reader.token);
  CHECK(newer.body["vocabulary"]["version"] == 2);
}

// [SECTION] Bad requests -----------------------------------------------------------------------------

TEST_CASE("Malformed or oversized or foreign requests are refused whole and the server lives on",
          "[server]") {
  OneAdvisor world;
  auto& api = world.api;
  const auto& device = world.device;
  const auto& token = device.token;
  const auto valid = [&] { return change("session", relais::make_uuid_v7(), session_fields(), 100, device.device_id); };
  const auto problem_fields = [](const Reply& reply) {
    std::vector<std::string> fields;
    for (const auto& problem : reply.body["error"]["problems"]) fields.push_back(problem["field"].get<std::string>());
    return fields;
  };

  {
    const auto reply = api.post("/api/v1/push", std::string("{\"device_id\": \"x\", \"changes\": [}"), token);
    CHECK(reply.status == 400);
    CHECK(reply.error_code() == "invalid_json");
    CHECK(reply.body["error"]["message"].get<std::string>().find("byte") != std::string::npos);
  }
  {
    // A key twice in a record's fields: parsers disagree on which value counts, so it is refused.
    auto text = push_body(device, {valid()}).dump();
    const auto duree = text.find("\"duree\":");
    REQUIRE(duree != std::string::npos);
    text.insert(duree, "\"duree\":90,");
    const auto reply = api.post("/api/v1/push", text, token);
    CHECK(reply.status == 400);
    CHECK(reply.error_code() == "invalid_json");
    CHECK(reply.body["error"]["message"].get<std::string>().find("duplicate key") != std::string::npos);
  }
  {
    const auto reply = api.post("/api/v1/push", std::string(100000, '[') + std::string(100000, ']'), token);
    CHECK(reply.status == 400);
    CHECK(reply.error_code() == "invalid_json");
  }
  {
    const auto reply = api.post("/api/v1/push", json::array({push_body(device, {valid()})}), token);
    CHECK(reply.status == 400);
    CHECK(reply.error_code() == "invalid_request");
  }
  {
    const auto reply = api.post("/api/v1/push", json{{"device_id", device.device_id}, {"changes", valid()}}, token);
    CHECK(reply.status == 400);
    CHECK(reply.error_code() == "invalid_request");
    CHECK(problem_fields(reply) == std::vector<std::string>{"changes"});
  }
  {
    auto no_versions = valid();
    no_versions.erase("versions");
    auto missing_one = valid();
    missing_one["versions"].erase("duree");
    auto bad_types = valid();
    bad_types["fields"] = "duree=45";
    bad_types["kind"] = "meeting";
    auto bad_version = valid();
    bad_version["versions"]["date"] = json::array({-1, device.device_id});
    auto reserved = valid();
    reserved["fields"]["id"] = relais::make_uuid_v7();
    reserved["versions"]["id"] = version(100, device.device_id);
    const auto reply = api.post(
        "/api/v1/push", push_body(device, {valid(), no_versions, missing_one, bad_types, bad_version, reserved, 42}),
        token);
    INFO(reply);
    CHECK(reply.status == 400);
    CHECK(reply.error_code() == "invalid_request");
    CHECK(problem_fields(reply) == std::vector<std::string>{"changes[1].versions", "changes[2].versions.duree",
                                                            "changes[3].kind", "changes[3].fields",
                                                            "changes[4].versions.date", "changes[5].fields.id",
                                                            "changes[6]"});
  }
  {
    // More than 16 MiB: refused by its Content-Length, and gzipped by what it inflates to.
    const auto large = std::string(16 * 1024 * 1024 + 1, ' ');
    const auto plain = api.post("/api/v1/push", large, token);
    CHECK(plain.status == 413);
    CHECK(plain.error_code() == "body_too_large");
    const auto bomb = api.post("/api/v1/push", gzip(large), token,
                               {{"Relais-Protocol", "1"}, {"Content-Encoding", "gzip"}});
    CHECK(bomb.status == 413);
    CHECK(bomb.error_code() == "body_too_large");
    const auto not_gzip = api.post("/api/v1/push", push_body(device, {valid()}).dump(), token,
                                   {{"Relais-Protocol", "1"}, {"Content-Encoding", "gzip"}});
    CHECK(not_gzip.status == 400);
    CHECK(not_gzip.error_code() == "invalid_request");
  }
  {
    Changes changes;
    for (int i = 0; i < 1001; ++i) changes.push_back(valid());
    const auto reply = api.post("/api/v1/push", push_body(device, changes), token);
    CHECK(reply.status == 413);
    CHECK(reply.error_code() == "too_many_records");
  }
  {
    const auto body = push_body(device, {valid()}).dump();
    const auto wrong = api.post("/api/v1/push", body, token, {{"Relais-Protocol", "2"}});
    CHECK(wrong.status == 426);
    CHECK(wrong.error_code() == "unsupported_protocol");
    CHECK(api.post("/api/v1/push", body, token, {}).status == 426);
    CHECK(api.get("/api/v1/pull", token, {}).status == 426);
  }
  {
    const auto reply = api.get("/api/v1/nothing-here", token);
    CHECK(reply.status == 404);
    CHECK(reply.error_code() == "not_found");
  }
  // Nothing of all that was stored, and the server still answers.
  CHECK(count_rows(world.db, "SELECT count(*) FROM records WHERE kind = 'session'") == 0);
  CHECK(api.get("/healthz").status == 200);

  SECTION("a gzipped push is accepted, and responses are gzipped on request") {
    const auto id = relais::make_uuid_v7();
    const auto reply = api.post("/api/v1/push",
                                gzip(push_body(device, {change("session", id, session_fields(), 100, device.device_id)}).dump()),
                                token, {{"Relais-Protocol", "1"}, {"Content-Encoding", "gzip"}});
    INFO(reply);
    REQUIRE(reply.status == 200);
    CHECK(reply.body["results"][0]["status"] == "applied");
    // (Pulled by the advisor's other device: the pushing one does not get its own records back.)
    const auto pulled =
        api.get("/api/v1/pull", world.reader.token, {{"Relais-Protocol", "1"}, {"Accept-Encoding", "gzip"}});
    REQUIRE(pulled.status == 200);
    const auto encoding = pulled.headers.find("Content-Encoding");
    REQUIRE(encoding != pulled.headers.end());
    CHECK(encoding->second == "gzip");
    bool found = false;
    for (const auto& record : pulled.body["records"]) found = found || record["id"] == id;
    CHECK(found);
  }
}

// [SECTION] Shutdown and restart ----------------------------------------------------------------------

TEST_CASE("A store of schema 3 is upgraded with its records, which can still be pulled and resent", "[server]") {
  TempDir dir;
  const auto db = dir / "server.db";
  // A schema 3 store made by the migrations of that time, with one place stored then.
  const auto place = relais::make_uuid_v7();
  {
    relais::sqlite::Database database(db);
    for (std::size_t version = 0; version < 3; ++version) database.exec(relais::server::server_migrations()[version]);
    database.exec("PRAGMA user_version = 3");
    database.exec("INSERT INTO records (id, kind, fields, versions, change_seq, created_at, updated_at) VALUES ('" +
                  place + "', 'place', '{\"nom\":\"Médiathèque\"}', '{\"*\":[5,\"" + relais::make_uuid_v7() +
                  "\"]}', 1, 0, 0)");
  }
  const auto structure = admin(db, {"add-structure", "--name", "Espace numérique"});
  const auto user = admin(db, {"add-user", "--structure", structure, "--role", "mediateur", "--name", "Martin"});
  CHECK(count_rows(db, "PRAGMA user_version") == relais::server::server_migrations().size());
  CHECK(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name = 'records' AND sql LIKE '%json_valid%'") == 0);
  for (const auto* index : {"records_owner", "records_structure", "records_device_lot", "records_event_device"}) {
    INFO(index);
    CHECK(count_rows(db, std::string("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '") + index +
                             "'") == 1);
  }

  ServerProcess server(db);
  Api api{server.port()};
  const auto device = enroll(api, db, user);
  const auto id = relais::make_uuid_v7();
  const Changes created = {change("session", id, session_fields(45), 1000, device.device_id)};
  const auto results = push_ok(api, device, created);
  CHECK(results[0]["status"] == "applied");
  CHECK(count_rows(db, "SELECT count(*) FROM records WHERE id = '" + id + "' AND creation_key IS NOT NULL") == 1);
  CHECK(count_rows(db, "SELECT count(*) FROM push_results") == 0);
  CHECK(push_ok(api, device, created) == results);
  const auto reader = enroll(api, db, user);
  const auto pulled = pull_all(api, reader);
  REQUIRE(pulled.records.count(id) == 1);
  CHECK(pulled.records.at(id)["fields"] == session_fields(45));
  REQUIRE(pulled.records.count(place) == 1);
  CHECK(pulled.records.at(place)["fields"] == json{{"nom", "Médiathèque"}});
}

TEST_CASE("SIGTERM stops the server cleanly and the data is there after a restart", "[server]") {
  OneAdvisor world;
  const auto id = relais::make_uuid_v7();
  CHECK(push_ok(world.api, world.device, {change("session", id, session_fields(), 100, world.device.device_id)})[0]
                ["status"] == "applied");
  const auto cursor = pull_all(world.api, world.reader).cursor;
  CHECK(world.server->stop() == 0);
  CHECK(world.server->err().find("relais-server stopped") != std::string::npos);

  ServerProcess restarted(world.db);
  Api api(restarted.port());
  const auto pulled = pull_all(api, world.reader);  // the same token still works
  REQUIRE(has(pulled, id));
  CHECK(pulled.records.at(id)["fields"] == session_fields());
  CHECK(pulled.cursor == cursor);  // the same store: cursors stay valid
  CHECK(pull_all(api, world.reader, cursor).records.empty());
}

// [SECTION] Concurrent edits ----------------------------------------------------------------------------

TEST_CASE("Concurrent edits of a field from two devices end the same in either order",
          "[server]") {
  OneAdvisor world;
  auto& api = world.api;
  const auto& laptop = world.device;
  const auto phone = enroll(api, world.db, world.user);

  // Two records made on the laptop, both known to the phone; each then gets the same two
  // concurrent edits of `duree`, arriving in one order for the first, the other for the second.
  const auto in_order = relais::make_uuid_v7();
  const auto reversed = relais::make_uuid_v7();
  for (const auto& id : {in_order, reversed}) {
    CHECK(push_ok(api, laptop, {change("session", id, session_fields(45), 100, laptop.device_id)})[0]["status"] ==
          "applied");
  }
  // Each edit names the version it replaced (its base): the creation's.
  const auto base = json{{"duree", version(100, laptop.device_id)}, {"notes", version(100, laptop.device_id)}};
  const auto laptop_edit = [&](const std::string& id) {
    return change("session", id, {{"duree", 60}}, 300, laptop.device_id, base);
  };
  const auto phone_edit = [&](const std::string& id) {
    return change("session", id, {{"duree", 90}, {"notes", "Rappel prévu."}}, 200, phone.device_id, base);
  };

  const auto laptop_first = push_ok(api, laptop, {laptop_edit(in_order)});
  const auto phone_second = push_ok(api, phone, {phone_edit(in_order)});
  const auto phone_first = push_ok(api, phone, {phone_edit(reversed)});
  const auto laptop_second = push_ok(api, laptop, {laptop_edit(reversed)});

  CHECK(laptop_first[0]["status"] == "applied");
  CHECK(phone_first[0]["status"] == "applied");
  const json lost_by_phone = {{"field", "duree"},
                              {"kept_value", 60},
                              {"kept_version", version(300, laptop.device_id)},
                              {"lost_value", 90},
                              {"lost_version", version(200, phone.device_id)},
                              {"incoming_lost", true}};
  REQUIRE(phone_second[0]["status"] == "conflict");
  CHECK(phone_second[0]["conflicts"] == json::array({lost_by_phone}));
  REQUIRE(laptop_second[0]["status"] == "conflict");
  auto won_by_laptop = lost_by_phone;
  won_by_laptop["incoming_lost"] = false;
  CHECK(laptop_second[0]["conflicts"] == json::array({won_by_laptop}));

  // The same record either way: the laptop's duree (greater version), the phone's notes
  // (nobody else changed them).
  const auto pulled = pull_all(api, laptop);
  const auto& first = pulled.records.at(in_order);
  const auto& second = pulled.records.at(reversed);
  CHECK(first["fields"] == second["fields"]);
  CHECK(first["versions"] == second["versions"]);
  CHECK(first["fields"]["duree"] == 60);
  CHECK(first["fields"]["notes"] == "Rappel prévu.");
  CHECK(first["versions"]["duree"] == version(300, laptop.device_id));

  // The conflict log has one entry per record, with the losing value.
  CHECK(count_rows(world.db, "SELECT count(*) FROM conflicts WHERE field = 'duree' AND lost_value = '90'"
                             " AND kept_value = '60'") == 2);
  // The phone sends its change again (it never got the answer): same answer, nothing new.
  CHECK(push_ok(api, phone, {phone_edit(in_order)}) == phone_second);
  CHECK(count_rows(world.db, "SELECT count(*) FROM conflicts") == 2);
  CHECK(pull_all(api, laptop, pulled.cursor).records.empty());
}

// [SECTION] Statistics and exports ---------------------------------------------------------------------

TEST_CASE("Statistics and exports: scoped by role, refreshed after pushes and deletes, bad parameters named",
          "[server][exports]") {
  TempDir dir;
  const auto db = dir / "server.db";
  const auto team_a = admin(db, {"add-structure", "--name", "France Services Villeurbanne"});
  const auto team_b = admin(db, {"add-structure", "--name", "Médiathèque de Bron"});
  const auto advisor_a = admin(db, {"add-user", "--structure", team_a, "--role", "mediateur", "--name", "Benali",
                                    "--first-name", "Samia"});
  const auto advisor_b = admin(db, {"add-user", "--structure", team_b, "--role", "mediateur", "--name", "Roux"});
  const auto coordinator_a =
      admin(db, {"add-user", "--structure", team_a, "--role", "coordinateur", "--name", "Martin"});
  const auto administrator = admin(db, {"add-user", "--structure", team_a, "--role", "admin", "--name", "Admin"});
  ServerProcess server(db);
  Api api{server.port()};
  const auto device_a = enroll(api, db, advisor_a);
  const auto device_b = enroll(api, db, advisor_b);
  const auto coordinator = enroll(api, db, coordinator_a);
  const auto admin_device = enroll(api, db, administrator);

  const auto first = relais::make_uuid_v7();
  const auto second = relais::make_uuid_v7();
  push_ok(api, device_a,
          {change("session", first, session_fields(45), 100, device_a.device_id),
           change("session", second, session_fields(120), 101, device_a.device_id)});
  push_ok(api, device_b, {change("session", relais::make_uuid_v7(), session_fields(30), 102, device_b.device_id)});

  const auto accompagnements = [&](const Device& who, const std::string& query = {}) {
    const auto reply = api.get("/api/v1/stats" + query, who.token);
    INFO(reply);
    REQUIRE(reply.status == 200);
    return reply.body.at("totals").at("accompagnements").get<int>();
  };
  CHECK(accompagnements(coordinator) == 2);
  CHECK(accompagnements(admin_device) == 3);
  CHECK(accompagnements(admin_device, "?structure=" + team_b) == 1);
  CHECK(accompagnements(coordinator, "?from=2026-01-11") == 0);

  SECTION("an advisor, another structure, no token: refused") {
    CHECK(api.get("/api/v1/stats", device_a.token).status == 403);
    CHECK(api.get("/api/v1/export?format=csv&what=activities", device_a.token).status == 403);
    CHECK(api.get("/api/v1/stats?structure=" + team_b, coordinator.token).status == 403);
    CHECK(api.get("/api/v1/export?format=csv&what=activities").status == 401);
  }

  SECTION("a deleted session leaves the figures at the next request") {
    push_ok(api, device_a, {change("session", second, {{"_deleted", true}}, 200, device_a.device_id)});
    CHECK(accompagnements(coordinator) == 1);
  }

  SECTION("the activity export of a coordinator: their structure's sessions, with the advisor's name") {
    const auto reply = api.get("/api/v1/export?format=csv&what=activities", coordinator.token);
    INFO(reply);
    REQUIRE(reply.status == 200);
    CHECK(reply.raw.rfind("\xEF\xBB\xBF", 0) == 0);  // UTF-8 BOM for French Excel
    CHECK(reply.raw.find("Samia Benali") != std::string::npos);
    CHECK(reply.raw.find("Roux") == std::string::npos);
    const auto rows = relais::parse_csv(reply.raw);
    std::size_t with_id = 0;
    for (const auto& row : rows) {
      for (const auto& cell : row) {
        if (cell == first || cell == second) ++with_id;
      }
    }
    CHECK(with_id == 2);
    const auto disposition = reply.headers.find("Content-Disposition");
    REQUIRE(disposition != reply.headers.end());
    CHECK(disposition->second.find(".csv") != std::string::npos);
  }

  SECTION("bad parameters are named, and the server keeps answering") {
    auto reply = api.get("/api/v1/export?format=pdf&what=activities", admin_device.token);
    CHECK(reply.status == 400);
    CHECK(reply.body.dump().find("format") != std::string::npos);
    reply = api.get("/api/v1/export?format=csv&what=activities&from=2026-13-01", admin_device.token);
    CHECK(reply.status == 400);
    CHECK(reply.body.dump().find("from") != std::string::npos);
    reply = api.get("/api/v1/stats?colour=blue", admin_device.token);
    CHECK(reply.status == 400);
    CHECK(api.get("/healthz").status == 200);
  }

  SECTION("relais-server export writes every structure's records; bad options exit 2 naming them") {
    const auto out = dir / "stats.xlsx";
    auto result = server_command(db, {"export", "--format", "xlsx", "--what", "stats", "--out", out.string()});
    INFO(result.err);
    CHECK(result.exit_code == 0);
    CHECK(fs::file_size(out) > 1000);
    const auto csv = dir / "activities.csv";
    result = server_command(db, {"export", "--format", "csv", "--what", "activities", "--structure", team_b, "--out",
                                 csv.string()});
    CHECK(result.exit_code == 0);
    CHECK(relais::test::read_file(csv).find("Roux") != std::string::npos);
    CHECK(relais::test::read_file(csv).find("Benali") == std::string::npos);
    result = server_command(db, {"export", "--format", "pdf", "--what", "stats", "--out", out.string()});
    CHECK(result.exit_code == 2);
    CHECK(result.err.find("--format") != std::string::npos);
    result = server_command(db, {"export", "--format", "csv", "--what", "stats", "--structure", "nope", "--out",
                                 (dir / "x.csv").string()});
    CHECK(result.exit_code == 2);
    CHECK_FALSE(fs::exists(dir / "x.csv"));
  }
}

// [SECTION] What a device may not do (issue 14) ---------------------------------------------------

namespace {

std::int64_t now_version(std::int64_t ahead_ms = 0) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return (now + ahead_ms) << 16;
}

std::string first_reason(const json& result) {
  return result.contains("problems") && !result["problems"].empty() ? result["problems"][0].value("reason", "") : "";
}

}  // namespace

TEST_CASE("A device cannot bend the clocks, push another device's versions, or take over a device id",
          "[server][hostile]") {
  OneAdvisor world;
  auto& api = world.api;
  const auto& device = world.device;

  SECTION("a clock ahead of the server's by more than the skew is refused, per record, with its reason") {
    const auto far = relais::make_uuid_v7();
    const auto hours = relais::make_uuid_v7();
    const auto fine = relais::make_uuid_v7();
    json forever = change("session", far, session_fields(), 0, device.device_id);
    forever["versions"] = {{"*", json::array({INT64_MAX, device.device_id})}};
    const auto results =
        push_ok(api, device, {forever, change("session", hours, session_fields(), now_version(3 * 3600 * 1000), device.device_id),
                              change("session", fine, session_fields(), now_version(30 * 60 * 1000), device.device_id)});
    CHECK(results[0]["status"] == "rejected");
    CHECK(first_reason(results[0]) == "clock_ahead");
    CHECK(results[0]["problems"][0]["message"].get<std::string>().find("avance de") != std::string::npos);
    CHECK(results[1]["status"] == "rejected");
    CHECK(first_reason(results[1]) == "clock_ahead");
    CHECK(results[2]["status"] == "applied");
    CHECK(count_rows(world.db, "SELECT count(*) FROM records WHERE kind = 'session'") == 1);
    // The server's clock did not move with the refused ones.
    CHECK(relais::sqlite::Database(world.db, relais::sqlite::Database::Mode::read_only)
              .query_int64("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'hlc_last'") <=
          now_version(3600 * 1000 + 60'000));
  }

  SECTION("every answer gives the server's time") {
    const auto reply = api.get("/api/v1/pull", device.token);
    const auto header = reply.headers.find(std::string(relais::wire::kServerTimeHeader));
    REQUIRE(header != reply.headers.end());
    CHECK(std::abs((std::stoll(header->second) << 16) - now_version()) < (std::int64_t{60'000} << 16));
    const auto refused = api.get("/api/v1/pull");
    CHECK(refused.status == 401);
    CHECK(refused.headers.count(std::string(relais::wire::kServerTimeHeader)) == 1);
  }

  SECTION("a version stamped by another device is refused") {
    const auto id = relais::make_uuid_v7();
    const auto results = push_ok(api, device, {change("session", id, session_fields(), 100, world.reader.device_id)});
    CHECK(results[0]["status"] == "rejected");
    CHECK(first_reason(results[0]) == "foreign_device");
    CHECK(results[0]["problems"][0]["field"] == "versions.date");
  }

  SECTION("a creation whose answer was lost, then edited on the same device, is no conflict") {
    const auto id = relais::make_uuid_v7();
    push_ok(api, device, {change("session", id, session_fields(45), 100, device.device_id)});  // answer "lost"
    const auto edited = push_ok(api, device, {change("session", id, {{"duree", 60}}, 200, device.device_id)});
    CHECK(edited[0]["status"] == "applied");
    CHECK(count_rows(world.db, "SELECT count(*) FROM conflicts") == 0);
  }

  SECTION("another user's enrollment cannot take a device id over") {
    const auto other = admin(world.db, {"add-user", "--structure", world.structure, "--role", "mediateur", "--name", "Durand"});
    const auto code = admin(world.db, {"enroll-code", "--user", other});
    const auto taken = api.post("/api/v1/enroll", json{{"code", code}, {"device_id", device.device_id}});
    CHECK(taken.status == 409);
    CHECK(taken.error_code() == "device_taken");
    CHECK(taken.body["error"]["problems"][0]["field"] == "device_id");
    // The victim's token still works, and the code was not spent.
    CHECK(api.get("/api/v1/pull", device.token).status == 200);
    const auto fresh = api.post("/api/v1/enroll", json{{"code", code}, {"device_id", relais::make_uuid_v7()}});
    CHECK(fresh.status == 200);
    // The same user enrolling the same device again is fine (a new token).
    const auto again = api.post("/api/v1/enroll", json{{"code", admin(world.db, {"enroll-code", "--user", world.user})},
                                                       {"device_id", device.device_id}});
    CHECK(again.status == 200);
  }
}

TEST_CASE("A child is accepted only under a parent in the pusher's scope of writes", "[server][hostile]") {
  TempDir dir;
  const auto db = dir / "server.db";
  const auto structure_a = admin(db, {"add-structure", "--name", "France Services Villeurbanne"});
  const auto structure_b = admin(db, {"add-structure", "--name", "Médiathèque de Bron"});
  const auto advisor_a = admin(db, {"add-user", "--structure", structure_a, "--role", "mediateur", "--name", "Benali"});
  const auto coordinator_a =
      admin(db, {"add-user", "--structure", structure_a, "--role", "coordinateur", "--name", "Martin"});
  const auto advisor_b = admin(db, {"add-user", "--structure", structure_b, "--role", "mediateur", "--name", "Petit"});
  const auto coordinator_b =
      admin(db, {"add-user", "--structure", structure_b, "--role", "coordinateur", "--name", "Roux"});
  const auto administrator = admin(db, {"add-user", "--structure", structure_b, "--role", "admin", "--name", "Admin"});
  ServerProcess server(db);
  Api api(server.port());
  const auto a = enroll(api, db, advisor_a);
  const auto coord_a = enroll(api, db, coordinator_a);
  const auto b = enroll(api, db, advisor_b);
  const auto coord_b = enroll(api, db, coordinator_b);
  const auto admin_device = enroll(api, db, administrator);

  const json lot_fields = {{"date", "2026-01-10"}, {"type_donateur", "entreprise"}, {"nom_donateur", "Rhône Offset"}};
  const auto lot_b = relais::make_uuid_v7();
  const auto device_b = relais::make_uuid_v7();
  const auto lot_a = relais::make_uuid_v7();
  const auto results_b = push_ok(
      api, b, {change("lot", lot_b, lot_fields, 100, b.device_id),
               change("device", device_b, {{"lot_id", lot_b}, {"type", "ordinateur_portable"}}, 100, b.device_id)});
  CHECK(results_b[1]["status"] == "applied");
  CHECK(push_ok(api, a, {change("lot", lot_a, lot_fields, 100, a.device_id)})[0]["status"] == "applied");

  const json erasure = {{"device_id", device_b}, {"type", "efface"}, {"date", "2026-01-12"}, {"auteur", "Benali"},
                        {"methode", "purge"}, {"outil", "ShredOS"}, {"resultat", "reussi"}};
  // Every child kind, under a parent of another structure, another advisor, or none.
  const auto device_in = [&](const std::string& lot) {
    return change("device", relais::make_uuid_v7(), {{"lot_id", lot}, {"type", "smartphone"}}, 200, a.device_id);
  };
  const auto event_on = [&](const std::string& device, const Device& pusher) {
    json fields = erasure;
    fields["device_id"] = device;
    return change("event", relais::make_uuid_v7(), fields, 200, pusher.device_id);
  };
  const auto refused = push_ok(api, a, {device_in(lot_b), event_on(device_b, a), device_in(relais::make_uuid_v7()),
                                         event_on(relais::make_uuid_v7(), a), device_in(device_b)});
  CHECK(refused[0]["status"] == "rejected");
  CHECK(first_reason(refused[0]) == "forbidden");
  CHECK(refused[0]["problems"][0]["field"] == "lot_id");
  CHECK(refused[1]["status"] == "rejected");
  CHECK(first_reason(refused[1]) == "forbidden");
  CHECK(refused[1]["problems"][0]["field"] == "device_id");
  CHECK(first_reason(refused[2]) == "parent_not_found");
  CHECK(first_reason(refused[3]) == "parent_not_found");
  CHECK(first_reason(refused[4]) == "parent_not_found");  // a device is no lot
  // A coordinator of B cannot hang anything on its advisor's lot either (writes are the owner's).
  const auto coordinator_event = push_ok(api, coord_b, {event_on(device_b, coord_b)});
  CHECK(first_reason(coordinator_event[0]) == "forbidden");
  // Nor a coordinator on its own structure's advisor's lot.
  CHECK(first_reason(push_ok(api, coord_a, {change("device", relais::make_uuid_v7(), {{"lot_id", lot_a}, {"type", "smartphone"}},
                                                   200, coord_a.device_id)})[0]) == "forbidden");
  // Moving one's own device into another's lot is refused too.
  const auto own_device = relais::make_uuid_v7();
  CHECK(push_ok(api, a, {change("device", own_device, {{"lot_id", lot_a}, {"type", "smartphone"}}, 300, a.device_id)})[0]
            ["status"] == "applied");
  const auto moved = push_ok(api, a, {change("device", own_device, {{"lot_id", lot_b}}, 400, a.device_id)});
  CHECK(first_reason(moved[0]) == "forbidden");
  // An administrator may.
  const auto by_admin = push_ok(api, admin_device, {event_on(device_b, admin_device)});
  INFO(by_admin.dump());
  CHECK(by_admin[0]["status"] == "applied");

  // Nobody of A reads B's lot or device through any of this.
  for (const auto* reader : {&a, &coord_a}) {
    const auto pulled = pull_all(api, *reader);
    CHECK_FALSE(has(pulled, lot_b));
    CHECK_FALSE(has(pulled, device_b));
  }
  CHECK(count_rows(db, "SELECT count(*) FROM records WHERE kind IN ('device', 'event') AND structure_id = '" +
                           structure_a + "' AND json_extract(fields, '$.lot_id') = '" + lot_b + "'") == 0);
}

TEST_CASE("AttemptThrottle counts failures per address over a sliding window, in bounded memory", "[server]") {
  std::int64_t now = 1'000'000;
  relais::server::AttemptThrottle throttle(3, 60'000, [&now] { return now; });
  for (int i = 0; i < 3; ++i) {
    CHECK(throttle.wait_ms("10.0.0.1") == 0);
    throttle.failed("10.0.0.1");
    now += 1000;
  }
  CHECK(throttle.wait_ms("10.0.0.1") == 60'000 - 3000);  // until the first failure leaves the minute
  CHECK(throttle.wait_ms("10.0.0.2") == 0);               // others are not slowed down
  now += 57'000;
  CHECK(throttle.wait_ms("10.0.0.1") == 0);
  throttle.failed("10.0.0.1");
  CHECK(throttle.wait_ms("10.0.0.1") > 0);
  throttle.succeeded("10.0.0.1");
  CHECK(throttle.wait_ms("10.0.0.1") == 0);
  // Many addresses: the oldest are forgotten, none is refused wrongly.
  for (std::size_t i = 0; i < relais::server::AttemptThrottle::kMaxAddresses + 10; ++i) throttle.failed("a" + std::to_string(i));
  CHECK(throttle.wait_ms("a0") == 0);
}

TEST_CASE("Failed enrollments are throttled per client address and logged", "[server][hostile]") {
  OneAdvisor world;
  auto& api = world.api;
  const auto guess = [&](const std::string& code, httplib::Headers headers = {{"Relais-Protocol", "1"}}) {
    return api.post("/api/v1/enroll", json{{"code", code}, {"device_id", relais::make_uuid_v7()}}.dump(), {}, headers);
  };
  for (int i = 0; i < 10; ++i) CHECK(guess("AAAA-BBBB-CCCC").status == 401);
  const auto refused = guess("AAAA-BBBB-CCCC");
  CHECK(refused.status == 429);
  CHECK(refused.error_code() == "too_many_attempts");
  CHECK(refused.headers.count("Retry-After") == 1);
  // Even a good code waits, from that address...
  const auto code = admin(world.db, {"enroll-code", "--user", world.user});
  CHECK(guess(code).status == 429);
  // ...but another client behind the reverse proxy is not slowed down.
  CHECK(guess(code, {{"Relais-Protocol", "1"}, {"X-Forwarded-For", "203.0.113.7"}}).status == 200);
  // Every failure is in the server's log, with its address.
  CHECK(world.server->err().find("enrollment refused from 127.0.0.1: enrollment_failed (10 failures") !=
        std::string::npos);
}
