// Crash safety: a process writing to the store is killed (SIGKILL) at an arbitrary moment; the
// store it leaves must be intact, every record must have its journal entry and every journal
// entry its record, no batch may be half stored, and the store must take new writes.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include <catch2/catch.hpp>

#include "relais/sqlite.hpp"
#include "support.hpp"

using nlohmann::json;
using relais::AnyRecord;
using relais::RecordKind;
using relais::Session;

namespace {

constexpr std::size_t kBatchSize = 10;

AnyRecord session_template() {
  const auto checked =
      relais::check_record(RecordKind::session, relais::test::valid_individual_session_json(), relais::test::context());
  INFO(relais::test::to_text(checked.problems));
  REQUIRE(checked.ok());
  return checked.record;
}

// [SECTION] The writer, run in a child process --------------------------------------------------
// No Catch2 here: the child reports through its exit status and stderr, and leaves with _exit().

[[noreturn]] void fail_child(const std::string& what) {
  std::fprintf(stderr, "crash test writer: %s\n", what.c_str());
  _exit(2);
}

void require_ok(const relais::WriteResult& result, const char* what) {
  if (!result.ok()) fail_child(std::string(what) + " refused: " + relais::test::to_text(result.problems));
}

// Writes forever: single sessions and batches of kBatchSize (tagged "batch-<round>-<n>") in
// turn, with some updates and deletes of single sessions.
[[noreturn]] void write_forever(const std::filesystem::path& path, const AnyRecord& model, int round,
                                pid_t parent) {
  try {
    auto store = relais::test::open_store(path);
    std::vector<std::string> singles;
    for (int step = 0;; ++step) {
      if (getppid() != parent) _exit(0);  // the test is gone: never outlive it
      if (step % 2 == 0) {
        const auto result = store->add(model);
        require_ok(result, "single add");
        singles.push_back(result.ids.at(0));
      } else {
        std::vector<AnyRecord> batch(kBatchSize, model);
        for (auto& record : batch) {
          std::get<Session>(record).tags = {"batch-" + std::to_string(round) + "-" + std::to_string(step)};
        }
        require_ok(store->add(std::move(batch)), "batch add");
      }
      if (step % 3 == 0 && !singles.empty()) {
        require_ok(store->update(singles.back(), {{"duree", 30 + step % 60}, {"notes", "Suite " + std::to_string(step)}}),
                   "update");
      }
      if (step % 5 == 0 && singles.size() > 1) {
        require_ok(store->remove(singles.front()), "delete");
        singles.erase(singles.begin());
      }
    }
  } catch (const std::exception& error) {
    fail_child(error.what());
  }
}

// [SECTION] The parent's view of the store -------------------------------------------------------

// Kills and reaps the writer if the test leaves early (a failed REQUIRE, an exception).
class WriterGuard {
 public:
  explicit WriterGuard(pid_t pid) : pid_(pid) {}
  ~WriterGuard() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  WriterGuard(const WriterGuard&) = delete;
  WriterGuard& operator=(const WriterGuard&) = delete;
  // Kills the writer now; returns its wait status.
  int kill_now() {
    int status = 0;
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
};

// The number of journal entries, through a separate read-only connection (0 before any).
std::int64_t journal_entries(const std::filesystem::path& path) {
  relais::sqlite::Database db(path, relais::sqlite::Database::Mode::read_only);
  return db.query_int64("SELECT count(*) FROM journal");
}

// Waits until the journal holds `target` entries; false if the writer stopped on its own first
// (or, as a guard against hanging, after a very long time).
bool wait_for_journal(const std::filesystem::path& path, std::int64_t target, pid_t writer) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < give_up) {
    if (journal_entries(path) >= target) return true;
    siginfo_t info{};
    // Has the writer stopped? (WNOWAIT: leave it to be reaped with its status.)
    if (waitid(P_PID, static_cast<id_t>(writer), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == writer) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

std::int64_t count(relais::sqlite::Database& db, const std::string& sql) { return db.query_int64(sql); }

std::string single_text(relais::sqlite::Database& db, const std::string& sql) {
  auto statement = db.prepare(sql);
  return statement.step() ? statement.column_text(0) : std::string{};
}

// Every check a killed writer's store must pass.
void check_store_after_crash(relais::LocalStore& store) {
  auto& db = store.database();
  CHECK(single_text(db, "PRAGMA integrity_check") == "ok");
  CHECK_FALSE(db.prepare("PRAGMA foreign_key_check").step());

  // Records and journal agree both ways.
  const auto sessions = count(db, "SELECT count(*) FROM sessions");
  CHECK(sessions > 0);
  CHECK(count(db, "SELECT count(*) FROM journal WHERE kind = 'session' AND op = 'create'") == sessions);
  CHECK(count(db,
              "SELECT count(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM journal j"
              " WHERE j.record_id = s.id AND j.kind = 'session' AND j.op = 'create')") == 0);
  CHECK(count(db,
              "SELECT count(*) FROM journal j WHERE j.op = 'create'"
              " AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = j.record_id)") == 0);
  // A row's version is that of its last journaled change, and deleted rows are those whose
  // deletion was journaled: no change reached the table without its entry, or the reverse.
  CHECK(count(db,
              "SELECT count(*) FROM sessions s WHERE s.version <>"
              " (SELECT max(j.version) FROM journal j WHERE j.record_id = s.id)") == 0);
  CHECK(count(db,
              "SELECT count(*) FROM sessions s WHERE (s.deleted_at IS NOT NULL) <>"
              " EXISTS (SELECT 1 FROM journal j WHERE j.record_id = s.id AND j.op = 'delete')") == 0);
  CHECK(count(db,
              "SELECT count(*) FROM sessions s WHERE NOT EXISTS"
              " (SELECT 1 FROM session_codes c WHERE c.session_id = s.id)") == 0);

  // Batches are whole: each batch tag present is on exactly kBatchSize sessions.
  auto batches = db.prepare(
      "SELECT t.value, count(*) FROM sessions s, json_each(s.body, '$.tags') t"
      " WHERE t.value LIKE 'batch-%' GROUP BY t.value");
  std::int64_t whole_batches = 0;
  while (batches.step()) {
    INFO("batch " << batches.column_text(0));
    CHECK(batches.column_int64(1) == static_cast<std::int64_t>(kBatchSize));
    ++whole_batches;
  }
  CHECK(whole_batches > 0);

  // Versions only grow, and the clock saved with them is not behind any of them.
  const auto journal = store.journal();
  for (std::size_t i = 1; i < journal.size(); ++i) {
    if (journal[i - 1].version >= journal[i].version) FAIL_CHECK("journal versions not increasing at seq " << journal[i].seq);
  }
  REQUIRE(store.meta("hlc_last"));
  CHECK(std::stoll(*store.meta("hlc_last")) >= journal.back().version);
}

}  // namespace

TEST_CASE("a writer killed at any moment leaves a consistent store that takes new writes", "[crash]") {
  relais::test::TempDir dir;
  const auto path = dir / "relais.db";
  const auto model = session_template();
  relais::test::open_store(path);  // created here, so that the parent can read it from the start

  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    // Kill after a different amount of work each time, to land at different points.
    const auto target = journal_entries(path) + 200 + 57 * round;
    const pid_t parent = getpid();
    const pid_t writer = fork();
    REQUIRE(writer >= 0);
    if (writer == 0) write_forever(path, model, round, parent);
    WriterGuard guard(writer);

    const bool reached = wait_for_journal(path, target, writer);
    const int status = guard.kill_now();
    INFO("writer wait status " << status << " (its error, if any, is on stderr)");
    REQUIRE(reached);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);

    auto store = relais::test::open_store(path);
    check_store_after_crash(*store);

    const auto sessions = store->count(RecordKind::session, /*include_deleted=*/true);
    const auto entries = store->journal_size();
    const auto added = store->add(model);
    INFO(relais::test::to_text(added.problems));
    REQUIRE(added.ok());
    CHECK(store->count(RecordKind::session, true) == sessions + 1);
    CHECK(store->journal_size() == entries + 1);
    CHECK(store->get(added.ids.at(0)));
  }
}
