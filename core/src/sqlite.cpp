#include "relais/sqlite.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

namespace relais::sqlite {

namespace {

[[noreturn]] void throw_error(sqlite3* db, int code, std::string_view context) {
  std::string message(context);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  throw Error(db != nullptr ? sqlite3_extended_errcode(db) : code, message);
}

}  // namespace

void Statement::Finalizer::operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &raw,
                                    nullptr);
  statement_.reset(raw);
  if (rc != SQLITE_OK) throw_error(db, rc, "prepare " + std::string(sql.substr(0, 60)));
}

Statement& Statement::bind(int index, std::int64_t value) {
  if (const int rc = sqlite3_bind_int64(statement_.get(), index, value); rc != SQLITE_OK) throw_error(db_, rc, "bind");
  return *this;
}

Statement& Statement::bind(int index, double value) {
  if (const int rc = sqlite3_bind_double(statement_.get(), index, value); rc != SQLITE_OK) throw_error(db_, rc, "bind");
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  const int rc = sqlite3_bind_text64(statement_.get(), index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
  return *this;
}

Statement& Statement::bind(int index, std::nullptr_t) {
  if (const int rc = sqlite3_bind_null(statement_.get(), index); rc != SQLITE_OK) throw_error(db_, rc, "bind");
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(statement_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const std::string sql = sqlite3_sql(statement_.get()) ? sqlite3_sql(statement_.get()) : "";
  sqlite3_reset(statement_.get());
  throw_error(db_, rc, "step " + sql.substr(0, 60));
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(statement_.get());
  sqlite3_clear_bindings(statement_.get());
}

bool Statement::is_null(int column) const { return sqlite3_column_type(statement_.get(), column) == SQLITE_NULL; }

std::int64_t Statement::column_int64(int column) const { return sqlite3_column_int64(statement_.get(), column); }

double Statement::column_double(int column) const { return sqlite3_column_double(statement_.get(), column); }

std::string Statement::column_text(int column) const { return std::string(column_view(column)); }

std::string_view Statement::column_view(int column) const {
  const auto* text = sqlite3_column_text(statement_.get(), column);
  const int size = sqlite3_column_bytes(statement_.get(), column);
  return text ? std::string_view(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size))
              : std::string_view{};
}

std::optional<std::string> Statement::column_optional_text(int column) const {
  if (is_null(column)) return std::nullopt;
  return column_text(column);
}

std::optional<std::int64_t> Statement::column_optional_int64(int column) const {
  if (is_null(column)) return std::nullopt;
  return column_int64(column);
}

void Database::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

void create_private_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
}

namespace {

// A store holds people's data and the device's token: readable by its owner only. A new one is
// made 0600 (SQLite then gives its -wal and -shm files the same mode); one made earlier with
// wider rights is narrowed, with those files, when its owner opens it.
void keep_private(const std::filesystem::path& path, bool create) {
  const auto& text = path.native();
  if (text.empty() || text == ":memory:" || text.rfind("file:", 0) == 0) return;
  if (create) create_private_file(path);
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const auto name = text + suffix;
    struct stat info {};
    if (::stat(name.c_str(), &info) == 0 && S_ISREG(info.st_mode) && info.st_uid == ::geteuid() &&
        (info.st_mode & 077) != 0) {
      ::chmod(name.c_str(), info.st_mode & 0700);
    }
  }
}

}  // namespace

Database::Database(const std::filesystem::path& path, Mode mode) : path_(path) {
  if (mode != Mode::read_only) keep_private(path, mode == Mode::read_write_create);
  // SQLite counts every allocation under a process-wide mutex unless told not to; nothing here
  // reads those counts (sqlite3_memory_used). Must come before SQLite initialises: the first
  // Database does it, and a later call would only be refused, harmlessly.
  static const bool memory_status_off = [] { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK; }();
  (void)memory_status_off;
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case Mode::read_write_create: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
    case Mode::read_write: flags |= SQLITE_OPEN_READWRITE; break;
    case Mode::read_only: flags |= SQLITE_OPEN_READONLY; break;
  }
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) throw_error(raw, rc, "open " + path.string());
  sqlite3_extended_result_codes(raw, 1);
  // Another process (the app and the CLI) may hold the write lock for a moment.
  sqlite3_busy_timeout(raw, 5000);
}

void Database::exec(std::string_view sql) {
  char* message = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string error = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw Error(sqlite3_extended_errcode(db_.get()), "exec " + text.substr(0, 60) + ": " + error);
  }
}

Database::Lease Database::cached(const std::string& sql) const {
  auto& slot = statements_[sql];
  if (!slot) slot = std::make_unique<Statement>(db_.get(), sql);
  return Lease(*slot);
}

std::int64_t Database::changes() const { return sqlite3_changes64(db_.get()); }

std::int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_.get()); }

std::int64_t Database::query_int64(std::string_view sql) const {
  auto statement = prepare(sql);
  return statement.step() ? statement.column_int64(0) : 0;
}

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (done_) return;
  try {
    db_.exec("ROLLBACK");
  } catch (...) {
    // A failed rollback leaves SQLite to roll back on close; never throw from a destructor.
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

WalCheckpointer::WalCheckpointer(Database& writer, int wake_pages, int inline_pages)
    : writer_(writer),
      own_(writer.path(), Database::Mode::read_write),
      wake_pages_(wake_pages),
      inline_pages_(inline_pages),
      thread_([this] { run(); }) {
  sqlite3_wal_hook(writer_.handle(), &WalCheckpointer::on_commit, this);
}

WalCheckpointer::~WalCheckpointer() {
  sqlite3_wal_autocheckpoint(writer_.handle(), 1000);  // SQLite's default, which removes our hook
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

std::int64_t WalCheckpointer::background_checkpoints() const {
  std::lock_guard lock(mutex_);
  return background_;
}

std::int64_t WalCheckpointer::inline_checkpoints() const {
  std::lock_guard lock(mutex_);
  return inline_;
}

// Called by SQLite on the writer's thread after each commit, with the pages now in the log.
int WalCheckpointer::on_commit(void* self, sqlite3* db, const char* schema, int pages) {
  auto& checkpointer = *static_cast<WalCheckpointer*>(self);
  if (pages >= checkpointer.inline_pages_) {
    // BUSY (the thread is checkpointing now) is fine: the log is being copied anyway.
    if (sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) == SQLITE_OK) {
      std::lock_guard lock(checkpointer.mutex_);
      ++checkpointer.inline_;
    }
  } else if (pages >= checkpointer.wake_pages_) {
    {
      std::lock_guard lock(checkpointer.mutex_);
      checkpointer.pending_ = true;
    }
    checkpointer.wake_.notify_one();
  }
  return SQLITE_OK;
}

void WalCheckpointer::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return pending_ || stopping_; });
    if (stopping_) return;
    pending_ = false;
    lock.unlock();
    // Copies what is committed; the writer restarts the log at its next transaction once
    // everything was copied. A failure (BUSY: the writer checkpointing inline) waits for the
    // next wake.
    const bool done = sqlite3_wal_checkpoint_v2(own_.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                                nullptr) == SQLITE_OK;
    lock.lock();
    if (done) ++background_;
  }
}

}  // namespace relais::sqlite
