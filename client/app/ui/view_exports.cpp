// Exports: a file for the team, the funder or a spreadsheet, written by the exports library on a
// worker thread (ExportJob) while the app stays usable.
#include "view_exports.hpp"

#include <imgui.h>

#include <algorithm>
#include <array>

#include "relais/text.hpp"
#include "view_statistics.hpp"
#include "widgets.hpp"

namespace relais::app {

namespace {

float scale() { return ImGui::GetFontSize() / 16.0f; }

constexpr std::array<exports::What, 4> kWhats{exports::What::activities, exports::What::stats, exports::What::equipment,
                                              exports::What::impact};
constexpr std::array<exports::Format, 3> kFormats{exports::Format::xlsx, exports::Format::csv, exports::Format::json};

std::string role_of(AppState& app) {
  const auto user = nlohmann::json::parse(app.store().meta(sync_meta::user).value_or("{}"), nullptr, false);
  return user.is_object() && user.contains("role") && user["role"].is_string() ? user["role"].get<std::string>() : "";
}

}  // namespace

ExportsView::ExportsView(AppState& app, Platform& platform) : app_(app), platform_(platform) {
  ExportJob::Options options;
  options.store_path = app_.store_path();
  options.base_vocabulary = &app_.assets().vocabulary;
  options.impact_factors_path = app_.assets().directory / "impact_factors.json";
  options.on_ready = [] { Platform::wake(); };
  job_ = std::make_unique<ExportJob>(std::move(options));
  period_.preset = "last_month";  // the usual monthly report
}

ExportsView::~ExportsView() = default;

bool ExportsView::running() const { return job_->status().running; }

std::string ExportsView::suggested_path(const stats::Filter& filter) const {
  const auto name = exports::default_file_name(what_, format_, exports::Period{filter.from, filter.to});
  return (default_export_folder() / name).string();
}

void ExportsView::start(const stats::Filter& filter) {
  const auto out = export_destination(path_, format_, problem_);
  outcome_shown_ = out.has_value();
  if (!out) return;
  path_ = out->string();
  const auto role = role_of(app_);
  ExportRequest request;
  request.out = *out;
  request.options.format = format_;
  request.options.what = what_;
  request.options.filter = filter;
  request.options.lang = app_.lang();
  request.options.info.exported_by = app_.advisor_display_name();
  request.options.info.role = role;
  // A coordinator's store holds the team's records: say whose each one is.
  request.options.with_mediateur = role == "coordinateur" || role == "admin";
  job_->start(std::move(request));
}

void ExportsView::draw() {
  const auto status = job_->status();
  ImGui::PushFont(platform_.fonts().title);
  ImGui::TextUnformatted(app_.text("app.title.exports").c_str());
  ImGui::PopFont();
  ImGui::Spacing();

  ImGui::BeginDisabled(status.running);
  ui::row_label(app_.text("app.exports.what"));
  const float left = ImGui::GetCursorPosX();
  bool first = true;
  for (const auto what : kWhats) {
    const std::string code(exports::to_string(what));
    const auto label = app_.text("app.exports.what." + code);
    if (!first) {
      ImGui::SameLine();
      if (ImGui::GetCursorPosX() + ImGui::CalcTextSize(label.c_str()).x + ImGui::GetStyle().FramePadding.x * 2 >
          ImGui::GetWindowContentRegionMax().x) {
        ImGui::NewLine();
        ImGui::SetCursorPosX(left);
      }
    }
    first = false;
    if (ui::toggle_button(label, "what" + code, what_ == what)) what_ = what;
    ui::probe("export:what:" + code);
  }
  ImGui::SetCursorPosX(left);
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextColored(ui::muted_colour(), "%s",
                     app_.text("app.exports.what_help." + std::string(exports::to_string(what_))).c_str());
  ImGui::PopTextWrapPos();

  ui::row_label(app_.text("app.exports.format"));
  for (const auto format : kFormats) {
    const std::string code(exports::to_string(format));
    if (format != kFormats.front()) ImGui::SameLine();
    if (ui::toggle_button(app_.text("app.exports.format." + code), "format" + code, format_ == format)) format_ = format;
    ui::probe("export:format:" + code);
  }

  ui::row_label(app_.text("app.exports.period"));
  std::vector<QueryProblem> problems;
  const auto filter = make_filter(period_, app_.today(), app_.vocabulary(), problems);
  ImGui::BeginGroup();
  period_controls(app_, period_, problems, "export");
  ImGui::EndGroup();

  ui::row_label(app_.text("app.exports.file"));
  if (!path_edited_ && filter) path_ = suggested_path(*filter);
  const float path_width = std::max(200 * scale(), ImGui::GetContentRegionAvail().x - 8 * scale());
  if (ui::text_field("export:path", path_, {}, std::min(path_width, 640 * scale()))) {
    path_edited_ = true;
    problem_.clear();
  }
  if (path_edited_ && filter) {
    ImGui::SetCursorPosX(200 * scale());
    if (ui::secondary_button(app_.text("app.exports.suggested"), "export:suggested")) {
      path_edited_ = false;
      problem_.clear();
    }
  }
  ImGui::SetCursorPosX(200 * scale());
  ImGui::PushTextWrapPos(0.0f);
  if (!problem_.empty()) {
    ImGui::TextColored(ui::error_colour(), "%s", app_.text(problem_).c_str());
  } else {
    ImGui::TextColored(ui::muted_colour(), "%s", app_.text("app.exports.file_help").c_str());
  }
  ImGui::PopTextWrapPos();
  ImGui::EndDisabled();

  ImGui::Spacing();
  ImGui::Separator();
  ImGui::Spacing();
  ImGui::BeginDisabled(status.running || !filter);
  if (ui::primary_button(app_.text("app.exports.start"), "button:export") && filter) start(*filter);
  ImGui::EndDisabled();

  const auto now = job_->status();
  if (now.running) {
    ImGui::SameLine();
    const float fraction =
        now.total > 0 ? std::clamp(static_cast<float>(now.done) / static_cast<float>(now.total), 0.0f, 1.0f) : 0.0f;
    const auto overlay = app_.text("app.exports.progress", {{"done", format_count(now.done, app_.lang())},
                                                            {"total", format_count(now.total, app_.lang())}});
    ImGui::ProgressBar(fraction, ImVec2(std::min(320 * scale(), ImGui::GetContentRegionAvail().x * 0.6f), 0),
                       overlay.c_str());
    ui::probe("export:progress");
    ImGui::SameLine();
    if (ui::secondary_button(app_.text("app.exports.cancel"), "button:cancel-export")) job_->cancel();
  }
  ImGui::PushTextWrapPos(0.0f);
  if (!outcome_shown_) {
    // The problem with the file is said above; the last export's outcome would confuse.
  } else if (now.finished && now.ok) {
    ImGui::TextColored(ui::ok_colour(), "✓ %s",
                       app_.text("app.exports.done", {{"path", now.out.string()},
                                                      {"rows", format_count(now.rows, app_.lang())}})
                           .c_str());
    ui::probe("export:status", "done");
  } else if (now.finished && now.cancelled) {
    ImGui::TextColored(ui::warn_colour(), "%s", app_.text("app.exports.cancelled").c_str());
    ui::probe("export:status", "cancelled");
  } else if (now.finished) {
    ImGui::TextColored(ui::error_colour(), "%s",
                       app_.text(now.write_error ? "app.exports.error.write" : "app.exports.error.other",
                                 {{"path", now.out.string()}, {"detail", now.error}})
                           .c_str());
    ui::probe("export:status", "error");
  }
  ImGui::PopTextWrapPos();
}

}  // namespace relais::app
