#include "export_job.hpp"

#include <cstdlib>
#include <system_error>

#include "relais/impact.hpp"
#include "relais/local_export_source.hpp"
#include "relais/local_store.hpp"
#include "relais/text.hpp"

namespace relais::app {

namespace {

std::optional<std::filesystem::path> home_folder() {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return std::nullopt;
  return std::filesystem::path(home);
}

}  // namespace

std::filesystem::path default_export_folder() {
  const auto home = home_folder();
  if (!home) return std::filesystem::current_path();
  std::error_code error;
  if (std::filesystem::is_directory(*home / "Documents", error)) return *home / "Documents";
  return *home;
}

std::optional<std::filesystem::path> export_destination(const std::string& typed, exports::Format format,
                                                         std::string& problem) {
  problem.clear();
  auto text = trim(typed);
  if (text.empty()) {
    problem = "app.exports.error.no_name";
    return std::nullopt;
  }
  std::filesystem::path path;
  const auto home = home_folder();
  if (text == "~" || text.rfind("~/", 0) == 0) {
    path = home.value_or(std::filesystem::current_path()) / text.substr(text.size() > 1 ? 2 : 1);
  } else {
    path = text;
    if (path.is_relative()) path = home.value_or(std::filesystem::current_path()) / path;
  }
  if (!path.has_filename()) {
    problem = "app.exports.error.no_name";
    return std::nullopt;
  }
  const auto wanted = "." + std::string(exports::to_string(format));
  const auto extension = path.extension().string();
  if (extension == ".csv" || extension == ".xlsx" || extension == ".json" || extension.empty()) {
    path.replace_extension(wanted);
  } else {
    path += wanted;  // "rapport.2026" keeps its dot
  }
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    problem = "app.exports.error.is_folder";
    return std::nullopt;
  }
  if (!std::filesystem::is_directory(path.parent_path(), error)) {
    problem = "app.exports.error.no_folder";
    return std::nullopt;
  }
  return path;
}

ExportJob::ExportJob(Options options) : options_(std::move(options)) {}

ExportJob::~ExportJob() {
  cancel_ = true;
  if (worker_.joinable()) worker_.join();
}

bool ExportJob::start(ExportRequest request) {
  {
    std::lock_guard lock(mutex_);
    if (status_.running) return false;
  }
  if (worker_.joinable()) worker_.join();  // the last export's thread, already done
  cancel_ = false;
  {
    std::lock_guard lock(mutex_);
    status_ = Status{};
    status_.running = true;
    status_.out = request.out;
  }
  worker_ = std::thread([this, request = std::move(request)]() mutable { run(std::move(request)); });
  return true;
}

void ExportJob::cancel() { cancel_ = true; }

ExportJob::Status ExportJob::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

ExportJob::Status ExportJob::wait() {
  if (worker_.joinable()) worker_.join();
  return status();
}

void ExportJob::run(ExportRequest request) {
  Status outcome;
  outcome.out = request.out;
  try {
    // Its own copies: the UI's store may take a vocabulary update meanwhile.
    const auto vocabulary = vocabulary_with_update(*options_.base_vocabulary, options_.store_path);
    const auto factors = ImpactFactors::load_file(options_.impact_factors_path);
    LocalExportSource source(options_.store_path, vocabulary);
    auto& export_options = request.options;
    export_options.cancel = &cancel_;
    std::int64_t last_shown = -1;
    export_options.progress = [&](std::int64_t done, std::int64_t total) {
      {
        std::lock_guard lock(mutex_);
        status_.done = done;
        status_.total = total;
      }
      // Wake the UI for each visible step of the bar (a percent), not for every row.
      const auto step = total > 0 ? done * 100 / total : done;
      if (step != last_shown && options_.on_ready) {
        last_shown = step;
        options_.on_ready();
      }
    };
    const auto result = exports::export_to_file(source, factors, export_options, request.out);
    outcome.cancelled = result.cancelled;
    outcome.ok = !result.cancelled;
    outcome.rows = result.rows;
  } catch (const exports::WriteError& error) {
    outcome.error = error.what();
    outcome.write_error = true;
  } catch (const std::exception& error) {
    outcome.error = error.what();
  }
  {
    std::lock_guard lock(mutex_);
    outcome.done = status_.done;
    outcome.total = status_.total;
    outcome.finished = true;
    status_ = std::move(outcome);
  }
  if (options_.on_ready) options_.on_ready();
}

}  // namespace relais::app
