#pragma once
// Helpers shared by the test suites.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "relais/assets.hpp"
#include "relais/local_store.hpp"
#include "relais/records.hpp"

namespace relais::test {

// The assets of the source tree, loaded once.
const Assets& assets();
const Vocabulary& vocabulary();

// The fixed "today" unit tests validate against, so that they never depend on the calendar.
inline constexpr Date kToday{2026, 11, 22};
ValidationContext context();

// A fresh folder under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Opens a store at `path` with today fixed to kToday.
std::unique_ptr<LocalStore> open_store(const std::filesystem::path& path);

// Problems as "field: reason" lines, for readable assertion failures.
std::string to_text(const Problems& problems);
bool has_problem(const Problems& problems, const std::string& field, const std::string& reason);

// Decodes and validates `record` as `kind` with context(): its problems.
Problems check(RecordKind kind, const nlohmann::json& record);
// The record passes validation (the problems are shown when it does not).
void require_ok(RecordKind kind, const nlohmann::json& record);
// The record has exactly one problem, on `field`, for `reason`.
void require_only(RecordKind kind, const nlohmann::json& record, const std::string& field, const std::string& reason);

// Checks `input` as `kind` (context()) and adds it; the test fails, showing the problems, unless
// both pass. Returns the new id.
std::string add_ok(LocalStore& store, RecordKind kind, const nlohmann::json& input);

// Sample records that pass validation (each test changes what it needs).
nlohmann::json valid_individual_session_json();
nlohmann::json valid_workshop_json();

// Runs a program with arguments, feeding `input` on its standard input; waits for it.
struct ProcessResult {
  int exit_code = -1;  // the exit status, or 128 + signal number
  std::string out;
  std::string err;
};
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = {},
                          const std::vector<std::string>& extra_env = {});

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);

}  // namespace relais::test
