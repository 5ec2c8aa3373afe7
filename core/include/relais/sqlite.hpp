#pragma once
// A thin RAII layer over SQLite: move-only handles, prepared statements, a transaction guard
// that rolls back unless committed, and exceptions that carry SQLite's extended error code.
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace relais::sqlite {

class Error : public std::runtime_error {
 public:
  Error(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }
  // Another connection held the store past the busy timeout (SQLITE_BUSY or SQLITE_LOCKED,
  // whatever the extended code): trying again later may work.
  bool busy() const { return (code_ & 0xff) == 5 || (code_ & 0xff) == 6; }

 private:
  int code_;
};

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, std::nullptr_t);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind(index, nullptr);
  }

  // Steps once: true while a row is available, false when done. Throws on error.
  bool step();
  // Runs a statement that returns no row, then resets it for the next use.
  void run();
  void reset();

  bool is_null(int column) const;
  std::int64_t column_int64(int column) const;
  double column_double(int column) const;
  std::string column_text(int column) const;
  // The text in SQLite's own buffer, without a copy: valid until the next step() or reset().
  std::string_view column_view(int column) const;
  std::optional<std::string> column_optional_text(int column) const;
  std::optional<std::int64_t> column_optional_int64(int column) const;

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* statement) const;
  };
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> statement_;
};

// Creates `path` as an empty file readable and writable by its owner only (0600), unless it
// exists: for a database file or a VACUUM INTO backup before SQLite writes it.
void create_private_file(const std::filesystem::path& path);

class Database {
 public:
  enum class Mode { read_write_create, read_write, read_only };
  Database(const std::filesystem::path& path, Mode mode = Mode::read_write_create);

  void exec(std::string_view sql);
  Statement prepare(std::string_view sql) const { return Statement(db_.get(), sql); }
  // A statement prepared once per connection and kept. The lease resets it when it goes out
  // of scope, so no half-read statement keeps an old snapshot open. Not for a statement that
  // is still being stepped by a caller up the stack.
  class Lease {
   public:
    explicit Lease(Statement& statement) : statement_(&statement) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { statement_->reset(); }
    Statement& operator*() const { return *statement_; }

   private:
    Statement* statement_;
  };
  Lease cached(const std::string& sql) const;
  std::int64_t changes() const;
  std::int64_t last_insert_rowid() const;
  // A single integer (e.g. PRAGMA user_version); 0 when there is no row.
  std::int64_t query_int64(std::string_view sql) const;
  sqlite3* handle() const { return db_.get(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  std::filesystem::path path_;
  std::unique_ptr<sqlite3, Closer> db_;
  // Declared after db_ so that the statements are finalized before the connection closes.
  mutable std::unordered_map<std::string, std::unique_ptr<Statement>> statements_;
};

// BEGIN IMMEDIATE on construction (the write lock is taken now, so no other writer can make
// this transaction fail later with SQLITE_BUSY); ROLLBACK in the destructor unless commit()ed.
class Transaction {
 public:
  explicit Transaction(Database& db);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

// Checkpoints a database in WAL mode from a thread of its own. SQLite's automatic checkpoint
// copies the log back into the database inside the commit that crosses its threshold, while
// that writer holds its locks; here the writer's commits only append to the log, and the copy
// runs beside them (a PASSIVE checkpoint, on a second connection, never blocks the writer).
//
// Installs a WAL hook on `writer`, which replaces SQLite's automatic checkpoint: after a
// commit that leaves `wake_pages` pages or more in the log, the thread is woken; at
// `inline_pages` or more (the thread fell behind), the writer checkpoints then and there, as
// SQLite would, so the log stays bounded. The writer must outlive this object.
class WalCheckpointer {
 public:
  explicit WalCheckpointer(Database& writer, int wake_pages = 1000, int inline_pages = 16000);
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;
  // Stops the thread and gives the writer SQLite's automatic checkpoint back.
  ~WalCheckpointer();

  // Checkpoints completed by the thread and by the writer: for tests and benchmarks.
  std::int64_t background_checkpoints() const;
  std::int64_t inline_checkpoints() const;

 private:
  static int on_commit(void* self, sqlite3* db, const char* schema, int pages);
  void run();

  Database& writer_;
  Database own_;
  const int wake_pages_;
  const int inline_pages_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool pending_ = false;
  bool stopping_ = false;
  std::int64_t background_ = 0;
  std::int64_t inline_ = 0;
  std::thread thread_;  // last: started once everything above is ready
};

}  // namespace relais::sqlite
