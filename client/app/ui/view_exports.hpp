#pragma once
// Exports: what (activities, statistics, equipment, impact), the format (XLSX, CSV, JSON), the
// period and the file; the export runs on an ExportJob worker with a progress bar and a cancel
// button, and the screen says where the file was written or, in plain words, why not.
#include <memory>
#include <string>
#include <vector>

#include "../model/app_state.hpp"
#include "../model/export_job.hpp"
#include "../model/statistics_worker.hpp"
#include "platform.hpp"

namespace relais::app {

class ExportsView {
 public:
  ExportsView(AppState& app, Platform& platform);
  ~ExportsView();
  ExportsView(const ExportsView&) = delete;
  ExportsView& operator=(const ExportsView&) = delete;

  void draw();
  // An export is running (the loop keeps drawing its progress).
  bool running() const;

 private:
  void start(const stats::Filter& filter);
  // The suggested file for the current choices, in the default folder.
  std::string suggested_path(const stats::Filter& filter) const;

  AppState& app_;
  Platform& platform_;
  std::unique_ptr<ExportJob> job_;
  exports::What what_ = exports::What::activities;
  exports::Format format_ = exports::Format::xlsx;
  StatisticsQuery period_;  // only the period is used
  std::string path_;
  bool path_edited_ = false;  // typed by the user: no longer follows the choices
  std::string problem_;       // why the file cannot be written there (a translation key)
  bool outcome_shown_ = true;  // the last export's outcome; hidden when the next one cannot start
};

}  // namespace relais::app
