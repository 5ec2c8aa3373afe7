#pragma once
// The Exports screen's model, with no UI code: where a file goes by default, the destination as
// typed made into a path the export can use (or a reason in plain words why not), and ExportJob,
// which runs the exports library (exports.hpp) on a worker thread over its own read-only
// connection (LocalExportSource), with progress and cancel.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "relais/exports.hpp"
#include "relais/vocabulary.hpp"

namespace relais::app {

// Where exports go unless the user says otherwise: ~/Documents when it exists, else ~ (the
// current folder when HOME is not set).
std::filesystem::path default_export_folder();

// The destination as typed: "~/" expanded, a relative path taken from the home folder, and the
// format's extension added (or put in place of another export format's: .csv, .xlsx, .json).
// Sets `problem` to a translation key (app.exports.error.*) and returns nothing when the file
// cannot be written there: no name, no such folder, a folder of that name.
std::optional<std::filesystem::path> export_destination(const std::string& typed, exports::Format format,
                                                         std::string& problem);

struct ExportRequest {
  exports::Options options;  // progress and cancel are set by ExportJob
  std::filesystem::path out;
};

class ExportJob {
 public:
  struct Options {
    std::filesystem::path store_path;
    const Vocabulary* base_vocabulary = nullptr;  // the assets' one; the store's update is added to it
    std::filesystem::path impact_factors_path;
    std::function<void()> on_ready;  // called on the worker thread on progress and at the end
  };
  explicit ExportJob(Options options);
  // Cancels the export running, if any, and joins the worker.
  ~ExportJob();
  ExportJob(const ExportJob&) = delete;
  ExportJob& operator=(const ExportJob&) = delete;

  // Starts an export; false when one is already running.
  bool start(ExportRequest request);
  // Asks the running export to stop: it leaves no file behind.
  void cancel();

  struct Status {
    bool running = false;
    bool finished = false;   // an export ended (ok, cancelled or failed) since the last start
    bool ok = false;
    bool cancelled = false;
    std::int64_t done = 0;   // rows written so far
    std::int64_t total = 0;  // rows in all (an estimate for statistics)
    std::int64_t rows = 0;   // data rows written, once finished
    std::string error;       // the library's words, when it failed
    bool write_error = false;  // the failure was writing the file (not reading the store)
    std::filesystem::path out;
  };
  Status status() const;
  // Blocks until the running export ends (tests only).
  Status wait();

 private:
  void run(ExportRequest request);

  Options options_;
  std::atomic<bool> cancel_{false};
  mutable std::mutex mutex_;
  Status status_;
  std::thread worker_;
};

}  // namespace relais::app
