#include "app_ui.hpp"

#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <array>

#include "relais/dates.hpp"
#include "relais/history.hpp"
#include "relais/records.hpp"
#include "relais/text.hpp"
#include "view_exports.hpp"
#include "view_statistics.hpp"
#include "widgets.hpp"

namespace relais::app {

using nlohmann::json;

namespace {

// In the navigation's order; Ctrl+1 ... Ctrl+8 (the screens added later come last, so that the
// shortcuts people know keep their number).
constexpr std::array<const char*, 8> kViews{"session",  "workshop", "equipment",  "history",
                                            "sync",     "settings", "statistics", "exports"};

float scale() { return ImGui::GetFontSize() / 16.0f; }

std::string local_time_of(const std::string& utc) {
  if (const auto ms = parse_timestamp_utc(utc)) return format_timestamp_local_french(*ms);
  return utc;
}

}  // namespace

AppUi::AppUi(AppState& app, Platform& platform) : app_(app), platform_(platform) {
  server_url_ = app_.sync_status().server_url;
  if (app_.needs_first_run_setup()) view_ = "setup";
}

AppUi::~AppUi() = default;

bool AppUi::is_view(const std::string& view) {
  return view == "setup" || std::find(kViews.begin(), kViews.end(), view) != kViews.end();
}

void AppUi::set_view(const std::string& view) {
  if (is_view(view)) view_ = view;
}

bool AppUi::animating() const {
  return app_.sync_status().running || app_.enrollment().running || (exports_ && exports_->running());
}

void AppUi::on_data_changed() { seen_generation_ = 0; }

bool AppUi::loading() const {
  if (!app_.sync_status().counts_known) return true;  // the indicator says "…"
  if (view_ == "statistics") return !statistics_ || statistics_->loading();
  if (view_ != "history") return false;
  if (!history_) return true;
  const auto snapshot = history_->snapshot();
  return snapshot.generation == 0 || snapshot.loading;
}

void AppUi::shortcuts() {
  const ImGuiIO& io = ImGui::GetIO();
  save_requested_ = false;
  if (io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_S, false)) save_requested_ = true;
  // Enter saves from a one-line field; in the notes it is a new line.
  if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Enter), false) && io.WantTextInput && !multiline_active_) {
    save_requested_ = true;
  }
  if (io.KeyCtrl && view_ != "setup") {
    for (std::size_t i = 0; i < kViews.size(); ++i) {
      if (ImGui::IsKeyPressed(GLFW_KEY_1 + static_cast<int>(i), false)) view_ = kViews[i];
    }
  }
  multiline_active_ = false;
}

void AppUi::frame() {
  ui::begin_probes();
  shortcuts();
  const ImGuiIO& io = ImGui::GetIO();
  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(io.DisplaySize);
  ImGui::Begin("##relais", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                   ImGuiWindowFlags_NoBringToFrontOnFocus);
  if (!app_.error_banner().empty()) {
    ImGui::TextColored(ui::error_colour(), "%s", app_.error_banner().c_str());
    ImGui::SameLine();
    if (ui::secondary_button(app_.text("app.error.dismiss"), "button:dismiss-error")) app_.dismiss_error();
  }
  if (view_ == "setup") {
    view_setup();
  } else {
    const float nav_width = std::max(215.0f * scale(), io.DisplaySize.x * 0.17f);
    navigation(nav_width);
    ImGui::SameLine();
    ImGui::BeginChild("##view", ImVec2(0, 0), false);
    if (view_ == "session") view_session(app_.individual, app_.individual_messages);
    if (view_ == "workshop") view_session(app_.workshop, app_.workshop_messages);
    if (view_ == "equipment") view_equipment();
    if (view_ == "history") view_history();
    if (view_ == "statistics") {
      if (!statistics_) statistics_ = std::make_unique<StatisticsView>(app_, platform_);
      statistics_->draw();
    }
    if (view_ == "exports") {
      if (!exports_) exports_ = std::make_unique<ExportsView>(app_, platform_);
      exports_->draw();
    }
    if (view_ == "sync") view_sync();
    if (view_ == "settings") view_settings();
    ImGui::EndChild();
  }
  delete_confirmation();
  ImGui::End();
}

void AppUi::navigation(float width) {
  ImGui::PushStyleColor(ImGuiCol_ChildBg, ImVec4(0.16f, 0.22f, 0.33f, 1.0f));
  ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(8 * scale(), 12 * scale()));
  ImGui::BeginChild("##nav", ImVec2(width, 0), false, ImGuiWindowFlags_AlwaysUseWindowPadding);
  ImGui::PushFont(platform_.fonts().title);
  ImGui::TextColored(ImVec4(1, 1, 1, 1), "Relais");
  ImGui::PopFont();
  const auto name = app_.advisor_display_name();
  if (!name.empty()) ImGui::TextColored(ImVec4(0.78f, 0.83f, 0.92f, 1.0f), "%s", name.c_str());
  ImGui::Spacing();
  ImGui::PushStyleVar(ImGuiStyleVar_ButtonTextAlign, ImVec2(0.0f, 0.5f));
  for (std::size_t i = 0; i < kViews.size(); ++i) {
    const bool selected = view_ == kViews[i];
    ImGui::PushStyleColor(ImGuiCol_Button, selected ? ImVec4(0.93f, 0.95f, 0.98f, 1.0f) : ImVec4(0, 0, 0, 0));
    ImGui::PushStyleColor(ImGuiCol_ButtonHovered, selected ? ImVec4(0.93f, 0.95f, 0.98f, 1.0f)
                                                           : ImVec4(0.26f, 0.34f, 0.48f, 1.0f));
    ImGui::PushStyleColor(ImGuiCol_Text, selected ? ImVec4(0.10f, 0.16f, 0.28f, 1.0f) : ImVec4(1, 1, 1, 1));
    ImGui::PushStyleColor(ImGuiCol_Border, ImVec4(0, 0, 0, 0));
    const auto label = app_.text(std::string("app.nav.") + kViews[i]);
    if (ImGui::Button((label + "##nav" + kViews[i]).c_str(), ImVec2(-1, 0))) view_ = kViews[i];
    ui::probe(std::string("nav:") + kViews[i]);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Ctrl+%zu", i + 1);
    ImGui::PopStyleColor(4);
  }
  ImGui::PopStyleVar();
  // The sync indicator sits at the bottom of the navigation, on every screen.
  const float indicator_height = ImGui::GetFrameHeightWithSpacing() * 2.2f;
  if (ImGui::GetContentRegionAvail().y > indicator_height) {
    ImGui::SetCursorPosY(ImGui::GetWindowHeight() - indicator_height);
  }
  sync_indicator();
  ImGui::EndChild();
  ImGui::PopStyleVar();
  ImGui::PopStyleColor();
}

void AppUi::sync_indicator() {
  const auto& status = app_.sync_status();
  ImVec4 colour{0.70f, 0.72f, 0.76f, 1.0f};
  std::string line;
  if (!status.enrolled) {
    line = app_.text("app.sync.indicator.local");
  } else if (status.running) {
    colour = {0.45f, 0.70f, 1.0f, 1.0f};
    line = app_.text("app.sync.indicator.running");
  } else if (!status.last_error.empty() && !status.online) {
    line = app_.text("app.sync.indicator.offline");
  } else if (!status.last_error.empty()) {
    colour = {1.0f, 0.55f, 0.45f, 1.0f};
    line = app_.text("app.sync.indicator.error");
  } else if (!status.counts_known) {
    line = "…";  // the store worker has not counted the records to send yet
  } else if (status.pending > 0) {
    colour = {1.0f, 0.75f, 0.30f, 1.0f};
    line = app_.text("app.sync.indicator.pending", {{"count", std::to_string(status.pending)}});
  } else {
    colour = {0.45f, 0.85f, 0.55f, 1.0f};
    line = app_.text("app.sync.indicator.ok");
  }
  ImGui::TextColored(colour, "●");
  ImGui::SameLine();
  ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1, 1, 1, 1));
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextWrapped("%s", line.c_str());
  ImGui::PopTextWrapPos();
  ImGui::PopStyleColor();
  if (ImGui::IsItemClicked()) view_ = "sync";
  ui::probe("sync-indicator");
}

// [SECTION] Help sessions ------------------------------------------------------------------------

void AppUi::place_fields(SessionForm& form, const FormMessages& messages) {
  ui::row_label(app_.text("app.field.type_lieu"), true);
  ui::code_radio(app_, "field:type_lieu", "type_lieu", form.type_lieu);
  ui::messages_for(messages, "type_lieu");
  if (form.type_lieu == "lieu_activite") {
    ui::row_label(app_.text("app.field.lieu_id"), true);
    ui::place_combo(app_, "field:lieu_id", form.lieu_id, app_.text("app.choose"));
    ui::messages_for(messages, "lieu_id");
  } else if (!form.type_lieu.empty()) {
    ui::row_label(app_.text("app.field.lieu_commune"), form.type_lieu != "a_distance");
    ui::text_field("field:lieu_commune", form.lieu_commune, app_.text("app.hint.commune"));
    ui::messages_for(messages, "lieu_commune");
    ui::row_label(app_.text("app.field.code_postal_insee"), form.type_lieu != "a_distance");
    ui::text_field("field:lieu_code_postal", form.lieu_code_postal, app_.text("app.hint.code_postal"), 110 * scale());
    ImGui::SameLine();
    ui::text_field("field:lieu_code_insee", form.lieu_code_insee, app_.text("app.hint.code_insee"), 110 * scale());
    ui::messages_for(messages, "lieu_code_postal");
    ui::messages_for(messages, "lieu_code_insee");
  }
}

void AppUi::workshop_counts(SessionForm& form, const FormMessages& messages) {
  ui::row_label(app_.text("app.field.total"), true);
  ui::int_field("field:total", form.total, 0, 10000);
  ui::messages_for(messages, "participants.total");
  ui::row_label(app_.text("app.field.deja_accompagnes"));
  ui::int_field("field:deja_accompagnes", form.deja_accompagnes, 0, 10000);
  ui::messages_for(messages, "participants.deja_accompagnes");
  for (const auto group : Participants::kGroups) {
    const std::string group_name(group);
    ImGui::Spacing();
    ImGui::PushFont(platform_.fonts().bold);
    ImGui::TextUnformatted(app_.set_label(group).c_str());
    ImGui::PopFont();
    const int remaining = form.non_communique(group_name);
    ImGui::SameLine();
    ImGui::TextColored(ui::muted_colour(), "%s",
                       app_.text("app.workshop.remaining", {{"count", std::to_string(remaining)}}).c_str());
    if (ImGui::BeginTable(("##counts" + group_name).c_str(), 4, ImGuiTableFlags_SizingStretchSame)) {
      int column = 0;
      for (const auto& code : app_.vocabulary().set(group).codes) {
        if (code.code == kNotCommunicated) continue;
        if (column % 2 == 0) ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::AlignTextToFramePadding();
        ImGui::TextUnformatted(code.label(app_.lang()).c_str());
        ImGui::TableNextColumn();
        auto& count = form.counts[group_name][code.code];
        ui::int_field("field:participants." + group_name + "." + code.code, count, 0, 10000, 110 * scale());
        ++column;
      }
      ImGui::EndTable();
    }
    ui::messages_for(messages, "participants." + group_name);
  }
  ui::messages_for(messages, "participants");
}

void AppUi::view_session(SessionForm& form, FormMessages& messages) {
  messages.reset_shown();
  const bool workshop = form.is_workshop();
  const float bar_height = ImGui::GetFrameHeightWithSpacing() * 2.4f;
  ImGui::PushFont(platform_.fonts().title);
  ImGui::TextUnformatted(app_.text(workshop ? "app.title.workshop" : "app.title.session").c_str());
  ImGui::PopFont();
  if (!form.editing_id.empty()) {
    ImGui::SameLine();
    ImGui::TextColored(ui::warn_colour(), "%s", app_.text("app.editing").c_str());
  }
  ImGui::BeginChild("##form", ImVec2(0, -bar_height), false);

  ui::row_label(app_.text("app.field.date"), true);
  ui::text_field("field:date", form.date, app_.text("app.hint.date"), 140 * scale());
  ImGui::SameLine();
  if (ui::secondary_button(app_.text("app.today"), "button:today")) form.date = format_date_french(app_.today());
  ImGui::SameLine();
  if (ui::secondary_button(app_.text("app.yesterday"), "button:yesterday")) {
    const auto day = std::chrono::sys_days{std::chrono::year{app_.today().year} / std::chrono::month{app_.today().month} /
                                           std::chrono::day{app_.today().day}} -
                     std::chrono::days{1};
    const std::chrono::year_month_day ymd{day};
    form.date = format_date_french(
        Date{static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day())});
  }
  ui::messages_for(messages, "date");

  ui::row_label(app_.text("app.field.duree"), true);
  // "Autre" stays ticked once chosen, even on a preset value; a value that is no preset
  // (a draft, a record being edited) always shows it.
  bool& custom_duration = workshop ? custom_duration_workshop_ : custom_duration_individual_;
  if (form.duree != 0 && std::find(std::begin(kDurationPresets), std::end(kDurationPresets), form.duree) ==
                             std::end(kDurationPresets)) {
    custom_duration = true;
  }
  for (const int minutes : kDurationPresets) {
    const bool selected = !custom_duration && form.duree == minutes;
    const auto label = minutes < 60 ? std::to_string(minutes) + " min"
                                    : std::to_string(minutes / 60) + " h" + (minutes % 60 ? " " + std::to_string(minutes % 60) : "");
    if (ui::toggle_button(label, "d" + std::to_string(minutes), selected)) {
      form.duree = minutes;
      custom_duration = false;
    }
    ui::probe("field:duree:" + std::to_string(minutes));
    ImGui::SameLine();
  }
  if (ImGui::Checkbox((app_.text("app.duration.other") + "##custom").c_str(), &custom_duration) && custom_duration &&
      form.duree == 0) {
    form.duree = 20;
  }
  ui::probe("field:duree:other");
  if (custom_duration) {
    ImGui::SameLine();
    ui::int_field("field:duree", form.duree, 0, 1439, 120 * scale());
    ImGui::SameLine();
    ImGui::TextUnformatted("min");
  }
  ui::messages_for(messages, "duree");

  place_fields(form, messages);

  if (workshop) {
    ui::row_label(app_.text("app.field.titre_atelier"));
    ui::text_field("field:titre_atelier", form.titre_atelier, app_.text("app.hint.titre_atelier"));
    ui::messages_for(messages, "titre_atelier");
    ui::row_label(app_.text("app.field.niveau"));
    ui::code_radio(app_, "field:niveau", "niveau", form.niveau, true);
    ui::messages_for(messages, "niveau");
  }

  ui::section_title(app_.text("app.section.themes"));
  ui::code_chips(app_, "field:thematiques", "thematiques", form.thematiques);
  ui::messages_for(messages, "thematiques");
  if (form.administrative()) {
    ImGui::Spacing();
    ImGui::TextColored(ui::muted_colour(), "%s",
                       app_.set_label("thematiques_administratives").c_str());
    ui::code_chips(app_, "field:thematiques_administratives", "thematiques_administratives", form.thematiques);
    if (!workshop) {
      ui::row_label(app_.text("app.field.precisions_demarche"));
      ui::text_field("field:precisions_demarche", form.precisions_demarche, app_.text("app.hint.precisions"));
      ui::messages_for(messages, "precisions_demarche");
    }
  }
  ImGui::Spacing();
  ImGui::TextColored(ui::muted_colour(), "%s", app_.set_label("materiel").c_str());
  ui::code_chips(app_, "field:materiel", "materiel", form.materiel);
  ui::messages_for(messages, "materiel");

  if (workshop) {
    ui::section_title(app_.text("app.section.participants"));
    workshop_counts(form, messages);
  } else {
    ui::section_title(app_.text("app.section.person"));
    ui::row_label(app_.set_label("genre"));
    ui::code_radio(app_, "field:genre", "genre", form.genre);
    ui::messages_for(messages, "beneficiaire.genre");
    ui::row_label(app_.set_label("tranche_age"));
    ui::code_combo(app_, "field:tranche_age", "tranche_age", form.tranche_age);
    ui::messages_for(messages, "beneficiaire.tranche_age");
    ui::row_label(app_.set_label("statut_social"));
    ui::code_combo(app_, "field:statut_social", "statut_social", form.statut_social);
    ui::messages_for(messages, "beneficiaire.statut_social");
    ui::row_label(app_.text("app.field.commune_residence"));
    ui::text_field("field:commune", form.commune, app_.text("app.hint.commune"), 220 * scale());
    ImGui::SameLine();
    ui::text_field("field:commune_code_postal", form.commune_code_postal, app_.text("app.hint.code_postal"), 110 * scale());
    ui::messages_for(messages, "beneficiaire");

    ui::section_title(app_.text("app.section.outcome"));
    ui::row_label(app_.set_label("autonomie"));
    ui::code_radio(app_, "field:autonomie", "autonomie", form.autonomie, true);
    ui::messages_for(messages, "autonomie");
    ui::row_label(app_.text("app.field.oriente"));
    ImGui::Checkbox("##oriente", &form.oriente_vers_structure);
    ui::probe("field:oriente_vers_structure");
    if (form.oriente_vers_structure) {
      ImGui::SameLine();
      ImGui::SetNextItemWidth(ui::field_width() - ImGui::GetFrameHeightWithSpacing());
      ui::code_combo(app_, "field:structure_de_redirection", "structure_de_redirection", form.structure_de_redirection,
                     app_.text("app.choose").c_str());
    }
    ui::messages_for(messages, "structure_de_redirection");
    ui::messages_for(messages, "oriente_vers_structure");
  }

  ui::section_title(app_.text("app.section.notes"));
  ui::row_label(app_.text("app.field.tags"));
  ui::text_field("field:tags", form.tags, app_.text("app.hint.tags"));
  ui::messages_for(messages, "tags");
  ui::row_label(app_.text("app.field.notes"));
  ui::multiline_field("field:notes", form.notes, 3);
  if (ImGui::IsItemActive()) multiline_active_ = true;
  ui::help_text(app_.text("app.hint.notes"));
  ui::messages_for(messages, "notes");
  ImGui::EndChild();

  bool save = save_requested_;
  save_bar(app_.text(form.editing_id.empty() ? "app.save" : "app.save_changes"), messages, save);
  ImGui::SameLine();
  if (ui::secondary_button(app_.text(form.editing_id.empty() ? "app.clear_form" : "app.cancel_edit"), "button:clear")) {
    form.prepare_next();
    messages.clear();
    app_.last_saved_message.clear();
  }
  if (save) {
    if (app_.save_session(form, messages)) {
      // Let go of the field being typed in, so that it shows the cleared form.
      ImGui::SetWindowFocus(nullptr);
    }
  }
}

void AppUi::save_bar(const std::string& label, const FormMessages& messages, bool& save) {
  ImGui::Separator();
  const auto leftovers = messages.not_shown(app_.lang());
  if (app_.saving()) {
    // The record is on its way to the store (SaveWorker): the form stays as typed until then.
    ImGui::TextColored(ui::muted_colour(), "%s", app_.text("app.saving").c_str());
    save = false;
    return;
  }
  if (!messages.empty()) {
    ImGui::TextColored(ui::error_colour(), "%s",
                       app_.text("app.form.problems", {{"count", std::to_string(messages.size())}}).c_str());
    for (const auto& line : leftovers) {
      ImGui::SameLine();
      ImGui::TextColored(ui::error_colour(), "%s", line.c_str());
    }
  } else if (!app_.last_saved_message.empty()) {
    ImGui::TextColored(ui::ok_colour(), "✓ %s", app_.last_saved_message.c_str());
  } else {
    ImGui::TextColored(ui::muted_colour(), "%s", app_.text("app.form.hint").c_str());
  }
  if (ui::primary_button(label + "  (Ctrl+S)", "button:save")) save = true;
}

// [SECTION] Sync -------------------------------------------------------------------------------------

// Server URL, one-time code and the enroll button, with the enrollment's state: on the sync
// screen and on the first-run screen.
void AppUi::enrollment_form() {
  ui::help_text(app_.text("app.sync.enroll_help"));
  ui::row_label(app_.text("app.sync.server_url"));
  ui::text_field("field:server_url", server_url_, "https://relais.exemple.fr");
  ui::row_label(app_.text("app.sync.code"));
  ui::text_field("field:enroll_code", enroll_code_, "K7QF-2M9D-XW4P", 220 * scale());
  ImGui::SameLine();
  ImGui::BeginDisabled(app_.enrollment().running);
  if (ui::secondary_button(app_.text("app.sync.enroll_button"), "button:enroll")) {
    app_.start_enrollment(server_url_, enroll_code_);
  }
  ImGui::EndDisabled();
  const auto& enrollment = app_.enrollment();
  if (enrollment.running) ImGui::TextColored(ui::muted_colour(), "%s", app_.text("app.sync.enrolling").c_str());
  if (enrollment.done) {
    ImGui::TextColored(enrollment.ok ? ui::ok_colour() : ui::error_colour(), "%s", enrollment.message.c_str());
  }
}

void AppUi::view_sync() {
  const auto& status = app_.sync_status();
  ImGui::PushFont(platform_.fonts().title);
  ImGui::TextUnformatted(app_.text("app.title.sync").c_str());
  ImGui::PopFont();
  ImGui::Spacing();
  const auto dash = std::string("—");
  ui::row_label(app_.text("app.sync.server"));
  ImGui::TextUnformatted(status.enrolled ? status.server_url.c_str() : app_.text("app.sync.not_enrolled").c_str());
  if (!status.user_label.empty()) {
    ui::row_label(app_.text("app.sync.account"));
    ImGui::TextUnformatted(status.user_label.c_str());
  }
  ui::row_label(app_.text("app.sync.state"));
  if (!status.enrolled) {
    ImGui::TextColored(ui::muted_colour(), "%s", app_.text("app.sync.indicator.local").c_str());
  } else if (status.running) {
    ImGui::TextColored(ui::ok_colour(), "%s",
                       app_.text(status.progress_phase == "pull" ? "app.sync.progress.pull" : "app.sync.progress.push",
                                 {{"count", std::to_string(status.progress_done)}})
                           .c_str());
  } else if (!status.last_error.empty()) {
    ImGui::TextColored(status.online ? ui::error_colour() : ui::warn_colour(), "%s",
                       app_.text(status.online ? "app.sync.online" : "app.sync.offline").c_str());
  } else {
    ImGui::TextColored(ui::ok_colour(), "%s", app_.text("app.sync.online").c_str());
  }
  ui::row_label(app_.text("app.sync.pending"));
  if (status.counts_known) {
    ImGui::Text("%lld", static_cast<long long>(status.pending));
  } else {
    ImGui::TextUnformatted("…");
  }
  ui::row_label(app_.text("app.sync.last_success"));
  ImGui::TextUnformatted(status.last_success.empty() ? dash.c_str() : local_time_of(status.last_success).c_str());
  // A row whose text may be long: wrapped, in its colour.
  const auto wrapped_row = [this](const std::string& label, const std::string& text, const ImVec4& colour) {
    ui::row_label(label);
    ImGui::PushStyleColor(ImGuiCol_Text, colour);
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + 560 * scale());
    ImGui::TextWrapped("%s", text.c_str());
    ImGui::PopTextWrapPos();
    ImGui::PopStyleColor();
  };
  if (!status.last_error.empty()) wrapped_row(app_.text("app.sync.last_error"), status.last_error, ui::error_colour());
  if (!status.clock_warning.empty()) wrapped_row(app_.text("app.sync.clock"), status.clock_warning, ui::warn_colour());
  ImGui::Spacing();
  if (status.enrolled) {
    ImGui::BeginDisabled(status.running);
    if (ui::primary_button(app_.text("app.sync.now"), "button:sync-now")) app_.sync_now();
    ImGui::EndDisabled();
  }

  ui::section_title(app_.text(status.enrolled ? "app.sync.enroll_again" : "app.sync.enroll"));
  enrollment_form();

  ui::section_title(app_.text("app.sync.quarantined", {{"count", std::to_string(status.quarantined.size())}}));
  if (status.quarantined.empty()) {
    ImGui::TextColored(ui::muted_colour(), "%s", status.counts_known ? app_.text("app.none").c_str() : "…");
  }
  for (const auto& record : status.quarantined) {
    const auto kind = record.value("kind", std::string{});
    const auto id = record.value("record_id", std::string{});
    ImGui::BulletText("%s %s", app_.text("app.kind." + kind).c_str(), id.substr(0, 8).c_str());
    if (record.contains("problems")) {
      for (const auto& problem : record["problems"]) {
        ImGui::Indent();
        ImGui::TextColored(ui::error_colour(), "%s", problem.value("message", problem.dump()).c_str());
        ImGui::Unindent();
      }
    }
  }
  ui::section_title(app_.text("app.sync.conflicts", {{"count", std::to_string(status.conflicts.size())}}));
  if (status.conflicts.empty()) {
    ImGui::TextColored(ui::muted_colour(), "%s", status.counts_known ? app_.text("app.none").c_str() : "…");
  }
  if (!status.conflicts.empty() && ImGui::BeginTable("##conflicts", 4,
                                                     ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH |
                                                         ImGuiTableFlags_SizingStretchProp)) {
    ImGui::TableSetupColumn(app_.text("app.conflict.when").c_str());
    ImGui::TableSetupColumn(app_.text("app.conflict.field").c_str());
    ImGui::TableSetupColumn(app_.text("app.conflict.kept").c_str());
    ImGui::TableSetupColumn(app_.text("app.conflict.lost").c_str());
    ImGui::TableHeadersRow();
    std::size_t shown = 0;
    for (const auto& conflict : status.conflicts) {
      if (++shown > 200) break;  // the newest; the CLI lists them all
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(local_time_of(conflict.value("detected_at", std::string{})).c_str());
      ImGui::TableNextColumn();
      ImGui::Text("%s · %s", app_.text("app.kind." + conflict.value("kind", std::string{})).c_str(),
                  conflict.value("field", std::string{}).c_str());
      ImGui::TableNextColumn();
      ImGui::TextWrapped("%s", conflict["kept_value"].dump().c_str());
      ImGui::TableNextColumn();
      ImGui::TextWrapped("%s", conflict["lost_value"].dump().c_str());
    }
    ImGui::EndTable();
  }
}

// [SECTION] Settings and first run --------------------------------------------------------------------

void AppUi::view_settings() {
  ImGui::PushFont(platform_.fonts().title);
  ImGui::TextUnformatted(app_.text("app.title.settings").c_str());
  ImGui::PopFont();
  ImGui::Spacing();
  ui::row_label(app_.text("app.settings.language"));
  if (ImGui::RadioButton("Français", app_.lang() == Lang::fr)) app_.set_lang(Lang::fr);
  ui::probe("field:lang:fr");
  ImGui::SameLine();
  if (ImGui::RadioButton("English", app_.lang() == Lang::en)) app_.set_lang(Lang::en);
  ui::probe("field:lang:en");

  ui::row_label(app_.text("app.settings.text_size"));
  int percent = static_cast<int>(std::lround(app_.text_scale() * 100));
  for (const int choice : {90, 100, 115, 130, 150}) {
    if (ui::toggle_button(std::to_string(choice) + " %", "size", percent == choice)) {
      app_.set_text_scale(static_cast<float>(choice) / 100.0f);
    }
    ui::probe("field:text_size:" + std::to_string(choice));
    ImGui::SameLine();
  }
  ImGui::NewLine();

  ui::section_title(app_.text("app.settings.identity"));
  std::string prenom = app_.setting(setting::advisor_prenom);
  std::string nom = app_.setting(setting::advisor_nom);
  ui::row_label(app_.text("app.field.prenom"));
  if (ui::text_field("field:prenom", prenom, {}, 260 * scale())) app_.set_setting(setting::advisor_prenom, trim(prenom));
  ui::row_label(app_.text("app.field.nom"));
  if (ui::text_field("field:nom", nom, {}, 260 * scale())) app_.set_setting(setting::advisor_nom, trim(nom));
  std::string lieu = app_.setting(setting::lieu_id);
  ui::row_label(app_.text("app.settings.usual_place"));
  if (ui::place_combo(app_, "field:usual_place", lieu, app_.text("app.none"))) {
    app_.set_setting(setting::lieu_id, lieu);
    for (auto* form : {&app_.individual, &app_.workshop}) {
      if (form->editing_id.empty()) form->lieu_id = lieu;
    }
    if (app_.lot.editing_id.empty()) app_.lot.lieu_id = lieu;
  }
  ui::help_text(app_.text("app.settings.usual_place_help"));

  ui::section_title(app_.text("app.settings.server"));
  const auto& status = app_.sync_status();
  ui::row_label(app_.text("app.sync.server"));
  ImGui::TextUnformatted(status.enrolled ? status.server_url.c_str() : app_.text("app.sync.not_enrolled").c_str());
  if (ui::secondary_button(app_.text("app.settings.open_sync"), "button:open-sync")) view_ = "sync";

  ui::section_title(app_.text("app.settings.about"));
  ImGui::TextColored(ui::muted_colour(), "Relais %s · %s", relais_version().c_str(), app_.store_path().string().c_str());
  ImGui::TextColored(ui::muted_colour(), "%s", app_.text(platform_.renderer_text_key()).c_str());
}

void AppUi::view_setup() {
  const float width = std::min(ImGui::GetContentRegionAvail().x, 760 * scale());
  ImGui::SetCursorPosX(std::max(0.0f, (ImGui::GetContentRegionAvail().x - width) / 2));
  ImGui::BeginChild("##setup", ImVec2(width, 0), false);
  ImGui::PushFont(platform_.fonts().title);
  ImGui::TextUnformatted(app_.text("app.setup.welcome").c_str());
  ImGui::PopFont();
  ui::help_text(app_.text("app.setup.intro"));

  ui::section_title(app_.text("app.setup.who"));
  std::string prenom = app_.setting(setting::advisor_prenom);
  std::string nom = app_.setting(setting::advisor_nom);
  ui::row_label(app_.text("app.field.prenom"), true);
  if (ui::text_field("field:prenom", prenom, {}, 260 * scale())) app_.set_setting(setting::advisor_prenom, trim(prenom));
  ui::row_label(app_.text("app.field.nom"), true);
  if (ui::text_field("field:nom", nom, {}, 260 * scale())) app_.set_setting(setting::advisor_nom, trim(nom));

  ui::section_title(app_.text("app.setup.where"));
  std::string lieu = app_.setting(setting::lieu_id);
  if (!app_.places().empty()) {
    ui::row_label(app_.text("app.settings.usual_place"));
    if (ui::place_combo(app_, "field:usual_place", lieu, app_.text("app.none"))) app_.set_setting(setting::lieu_id, lieu);
  }
  ui::help_text(app_.text("app.setup.new_place"));
  ui::row_label(app_.text("app.field.place_name"));
  ui::text_field("field:place_nom", new_place_nom_, app_.text("app.hint.place_name"));
  ui::row_label(app_.text("app.field.lieu_commune"));
  ui::text_field("field:place_commune", new_place_commune_, app_.text("app.hint.commune"), 220 * scale());
  ImGui::SameLine();
  ui::text_field("field:place_code_postal", new_place_code_postal_, app_.text("app.hint.code_postal"), 110 * scale());
  ImGui::SameLine();
  if (ui::secondary_button(app_.text("app.setup.add_place"), "button:add-place")) {
    std::string id;
    const auto problems = app_.add_place(new_place_nom_, new_place_commune_, new_place_code_postal_, id);
    if (problems.empty()) {
      app_.set_setting(setting::lieu_id, id);
      app_.individual.lieu_id = app_.workshop.lieu_id = app_.lot.lieu_id = id;
      place_message_ = app_.text("app.setup.place_added");
      new_place_nom_.clear();
      new_place_commune_.clear();
      new_place_code_postal_.clear();
    } else {
      place_message_.clear();
      for (const auto& problem : problems) {
        place_message_ += describe(problem, app_.assets().translator, app_.lang()) + "\n";
      }
    }
  }
  if (!place_message_.empty()) ImGui::TextWrapped("%s", place_message_.c_str());

  ui::section_title(app_.text("app.setup.server"));
  enrollment_form();
  ImGui::Spacing();
  ImGui::Separator();
  const bool named = !app_.advisor_display_name().empty();
  if (!named) ImGui::TextColored(ui::muted_colour(), "%s", app_.text("app.setup.name_needed").c_str());
  ImGui::BeginDisabled(!named);
  if (app_.enrollment().ok) {
    if (ui::primary_button(app_.text("app.setup.start"), "button:start")) view_ = "session";
  } else {
    if (ui::primary_button(app_.text("app.setup.offline"), "button:offline")) {
      app_.set_setting(setting::setup_done, "offline");
      view_ = "session";
    }
  }
  ImGui::EndDisabled();
  ImGui::EndChild();
}

void AppUi::delete_confirmation() {
  if (!pending_delete_id_.empty() && !ImGui::IsPopupOpen("##confirm-delete")) ImGui::OpenPopup("##confirm-delete");
  if (ImGui::BeginPopupModal("##confirm-delete", nullptr, ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoTitleBar)) {
    ImGui::TextUnformatted(app_.text("app.delete.question").c_str());
    ImGui::TextColored(ui::muted_colour(), "%s", pending_delete_label_.c_str());
    if (!delete_error_.empty()) ImGui::TextColored(ui::error_colour(), "%s", delete_error_.c_str());
    ImGui::Spacing();
    if (ui::primary_button(app_.text("app.delete.confirm"), "button:confirm-delete")) {
      if (app_.delete_record(pending_delete_id_, delete_error_)) {
        pending_delete_id_.clear();
        delete_error_.clear();
        on_data_changed();
        ImGui::CloseCurrentPopup();
      }
    }
    ImGui::SameLine();
    if (ui::secondary_button(app_.text("app.delete.cancel"), "button:cancel-delete") ||
        ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) {
      pending_delete_id_.clear();
      delete_error_.clear();
      ImGui::CloseCurrentPopup();
    }
    ImGui::EndPopup();
  }
}

}  // namespace relais::app
