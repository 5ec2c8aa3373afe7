// The SQLite layer's WAL checkpointer (core/sqlite.hpp): the thread copies the log back into the
// database beside the writer, and the writer does it itself when the thread falls behind, so the
// log stays bounded either way.
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "relais/sqlite.hpp"
#include "support.hpp"

namespace {

using relais::sqlite::Database;
using relais::sqlite::Transaction;
using relais::sqlite::WalCheckpointer;

Database open_wal(const std::filesystem::path& path) {
  Database db(path);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  db.exec("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  return db;
}

// One transaction adding a row of a page or so: a few pages in the log per commit.
void add_row(Database& db, int id) {
  Transaction transaction(db);
  db.prepare("INSERT INTO rows (id, body) VALUES (?1, zeroblob(3000))").bind(1, id).run();
  transaction.commit();
}

std::uintmax_t wal_size(const std::filesystem::path& db) {
  const auto wal = db.string() + "-wal";
  return std::filesystem::exists(wal) ? std::filesystem::file_size(wal) : 0;
}

}  // namespace

TEST_CASE("the checkpointer's thread copies the log into the database beside the writer", "[sqlite]") {
  relais::test::TempDir dir;
  const auto path = dir.path() / "store.db";
  auto db = open_wal(path);
  {
    WalCheckpointer checkpointer(db, /*wake_pages=*/8, /*inline_pages=*/1'000'000);
    for (int id = 1; id <= 200; ++id) add_row(db, id);
    // The thread runs on its own time: give it a moment after the last commit.
    for (int i = 0; i < 500 && checkpointer.background_checkpoints() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(checkpointer.background_checkpoints() > 0);
    CHECK(checkpointer.inline_checkpoints() == 0);
  }
  // Everything committed is there, through another connection.
  Database reader(path, Database::Mode::read_only);
  CHECK(reader.query_int64("SELECT count(*) FROM rows") == 200);
  // The writer has its automatic checkpoint back, and keeps writing.
  add_row(db, 201);
  CHECK(db.query_int64("SELECT count(*) FROM rows") == 201);
}

TEST_CASE("the writer checkpoints itself when the checkpointer's thread falls behind", "[sqlite]") {
  relais::test::TempDir dir;
  const auto path = dir.path() / "store.db";
  auto db = open_wal(path);
  constexpr int kInlinePages = 16;
  // A thread never woken (its threshold is never reached) stands for one that fell behind.
  WalCheckpointer checkpointer(db, /*wake_pages=*/1'000'000, kInlinePages);
  for (int id = 1; id <= 300; ++id) add_row(db, id);
  CHECK(checkpointer.inline_checkpoints() > 0);
  CHECK(checkpointer.background_checkpoints() == 0);
  // 300 commits of about two pages each would make a log of 600 pages; it was restarted each
  // time it passed kInlinePages instead (a frame is a page and a 24-byte header).
  const auto page_size = static_cast<std::uintmax_t>(db.query_int64("PRAGMA page_size"));
  CHECK(wal_size(path) <= (kInlinePages + 8) * (page_size + 24) + 32);
  CHECK(db.query_int64("SELECT count(*) FROM rows") == 300);
}

TEST_CASE("a store file is readable by its owner only", "[sqlite]") {
  relais::test::TempDir dir;
  const auto path = dir / "new.db";
  {
    relais::sqlite::Database db(path);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("CREATE TABLE t (x)");
    db.exec("INSERT INTO t VALUES (1)");
    for (const char* suffix : {"", "-wal", "-shm"}) {
      INFO(suffix);
      const auto file = path.string() + suffix;
      REQUIRE(std::filesystem::exists(file));
      CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::all) ==
            (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
    }
  }
  // One made world-readable by an earlier build is narrowed when opened for writing.
  std::filesystem::permissions(path, std::filesystem::perms::others_read | std::filesystem::perms::group_read,
                               std::filesystem::perm_options::add);
  relais::sqlite::Database again(path, relais::sqlite::Database::Mode::read_write);
  CHECK((std::filesystem::status(path).permissions() & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) ==
        std::filesystem::perms::none);
}
