// Historique: every session and lot, newest first, filtered, read page by page on the history
// reader's thread (the list shows as many rows as there are, and asks only for the visible ones).
#include <imgui.h>
#include <imgui_stdlib.h>

#include "app_ui.hpp"
#include "relais/dates.hpp"
#include "relais/history.hpp"
#include "relais/vocabulary.hpp"
#include "widgets.hpp"

namespace relais::app {

namespace {

float scale() { return ImGui::GetFontSize() / 16.0f; }

}  // namespace

void AppUi::view_history() {
  if (!history_) {
    history_ = std::make_unique<HistoryReader>(app_.store_path(), [] { Platform::wake(); });
    seen_generation_ = app_.data_generation();
  }
  if (seen_generation_ != app_.data_generation()) {
    history_->refresh();
    seen_generation_ = app_.data_generation();
  }

  ImGui::PushFont(platform_.fonts().title);
  ImGui::TextUnformatted(app_.text("app.title.history").c_str());
  ImGui::PopFont();

  // Filters.
  const std::string all = app_.text("app.history.all");
  ImGui::SetNextItemWidth(230 * scale());
  ImGui::InputTextWithHint("##search", app_.text("app.history.search").c_str(), &history_search_);
  ui::probe("field:history_search");
  ImGui::SameLine();
  ImGui::TextUnformatted(app_.text("app.history.from").c_str());
  ImGui::SameLine();
  ui::text_field("field:history_from", history_from_, app_.text("app.hint.date"), 110 * scale());
  ImGui::SameLine();
  ImGui::TextUnformatted(app_.text("app.history.to").c_str());
  ImGui::SameLine();
  ui::text_field("field:history_to", history_to_, app_.text("app.hint.date"), 110 * scale());

  ui::choice_combo("field:history_type", 170 * scale(), history_type_,
               {{"", app_.text("app.history.all_types")},
                {"individuel", app_.label("type", "individuel")},
                {"collectif", app_.label("type", "collectif")},
                {"collecte", app_.text("app.history.collecte")}});
  ImGui::SameLine();
  std::vector<std::pair<std::string, std::string>> themes{{"", app_.text("app.history.all_themes")}};
  for (const auto& code : app_.vocabulary().set("thematiques").codes) themes.emplace_back(code.code, code.label(app_.lang()));
  ui::choice_combo("field:history_theme", 210 * scale(), history_theme_, themes);
  ImGui::SameLine();
  std::vector<std::pair<std::string, std::string>> places{{"", app_.text("app.history.all_places")}};
  for (const auto& place : app_.places()) places.emplace_back(place.id, place.label);
  ui::choice_combo("field:history_lieu", 210 * scale(), history_lieu_, places);
  ImGui::SameLine();
  ui::choice_combo("field:history_state", 160 * scale(), history_state_,
               {{"", app_.text("app.history.all_states")},
                {"pending", app_.text("app.history.state.pending")},
                {"synced", app_.text("app.history.state.synced")},
                {"quarantined", app_.text("app.history.state.quarantined")}});

  HistoryFilter filter;
  filter.search = history_search_;
  filter.type = history_type_;
  filter.theme = history_theme_;
  filter.lieu_id = history_lieu_;
  filter.sync_state = history_state_;
  std::string filter_error;
  for (const auto& [text, target] : {std::pair{&history_from_, &filter.from}, std::pair{&history_to_, &filter.to}}) {
    if (text->empty()) continue;
    if (const auto date = parse_date(date_for_store(*text))) {
      *target = date;
    } else {
      filter_error = app_.text("app.history.bad_date", {{"value", *text}});
    }
  }
  if (!filter_error.empty()) ImGui::TextColored(ui::error_colour(), "%s", filter_error.c_str());

  const auto snapshot = history_->snapshot();
  const bool enrolled = app_.sync_status().enrolled;
  ImGui::TextColored(ui::muted_colour(), "%s",
                     snapshot.generation == 0 ? app_.text("app.history.loading").c_str()
                                              : app_.text("app.history.count", {{"count", std::to_string(snapshot.count)}}).c_str());
  if (!snapshot.error.empty()) ImGui::TextColored(ui::error_colour(), "%s", snapshot.error.c_str());

  std::int64_t visible_first = 0;
  std::int64_t visible_count = 60;
  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_ScrollY |
                                ImGuiTableFlags_SizingStretchProp;
  if (ImGui::BeginTable("##history", 6, flags, ImVec2(0, 0))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn(app_.text("app.history.col.date").c_str(), ImGuiTableColumnFlags_WidthFixed, 95 * scale());
    ImGui::TableSetupColumn(app_.text("app.history.col.type").c_str(), ImGuiTableColumnFlags_WidthStretch, 0.8f);
    ImGui::TableSetupColumn(app_.text("app.history.col.summary").c_str(), ImGuiTableColumnFlags_WidthStretch, 2.4f);
    ImGui::TableSetupColumn(app_.text("app.history.col.place").c_str(), ImGuiTableColumnFlags_WidthStretch, 1.3f);
    ImGui::TableSetupColumn(app_.text("app.history.col.sync").c_str(), ImGuiTableColumnFlags_WidthFixed, 100 * scale());
    const auto edit_label = app_.text("app.history.edit");
    const auto delete_label = app_.text("app.history.delete");
    const float actions_width = ImGui::CalcTextSize(edit_label.c_str()).x + ImGui::CalcTextSize(delete_label.c_str()).x +
                                ImGui::GetStyle().FramePadding.x * 4 + ImGui::GetStyle().ItemSpacing.x;
    ImGui::TableSetupColumn("", ImGuiTableColumnFlags_WidthFixed, actions_width);
    ImGui::TableHeadersRow();
    const bool current = snapshot.filter == filter;
    ImGuiListClipper clipper;
    clipper.Begin(current ? static_cast<int>(snapshot.count) : 0);
    while (clipper.Step()) {
      // The clipper's first step shows row 0 alone, to measure a row; the rows on screen come in
      // the last step. Asking from row 0 would load the first pages only, however deep the scroll.
      visible_first = clipper.DisplayStart;
      visible_count = std::max<std::int64_t>(60, clipper.DisplayEnd - clipper.DisplayStart);
      for (int index = clipper.DisplayStart; index < clipper.DisplayEnd; ++index) {
        ImGui::TableNextRow();
        const HistoryRow* row = snapshot.row(index);
        ImGui::TableNextColumn();
        if (row == nullptr) {
          ImGui::TextColored(ui::muted_colour(), "…");
          continue;
        }
        const auto date = parse_date(row->date);
        ImGui::TextUnformatted(date ? format_date_french(*date).c_str() : row->date.c_str());
        ImGui::TableNextColumn();
        if (row->kind == RecordKind::lot) {
          ImGui::TextUnformatted(app_.text("app.history.collecte").c_str());
        } else {
          ImGui::TextUnformatted(app_.text("app.history.type." + row->type).c_str());
        }
        ImGui::TableNextColumn();
        std::string summary;
        if (row->kind == RecordKind::lot) {
          summary = app_.label("type_donateur", row->type_donateur);
          if (!row->title.empty()) summary += " · " + row->title;
          summary += " · " + app_.text("app.history.devices", {{"count", std::to_string(row->device_count)}});
        } else {
          if (row->duree) summary = std::to_string(*row->duree) + " min";
          if (row->type == "collectif") {
            summary += " · " + app_.text("app.history.people", {{"count", std::to_string(row->participants)}});
            if (!row->title.empty()) summary += " · " + row->title;
          }
          for (std::size_t i = 0; i < row->themes.size() && i < 2; ++i) {
            summary += " · " + app_.label("thematiques", row->themes[i]);
          }
          if (row->themes.size() > 2) summary += " +" + std::to_string(row->themes.size() - 2);
        }
        ImGui::TextUnformatted(summary.c_str());
        if (ImGui::IsItemHovered() && ImGui::CalcTextSize(summary.c_str()).x > ImGui::GetColumnWidth()) {
          ImGui::SetTooltip("%s", summary.c_str());
        }
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(row->lieu_nom.value_or(row->commune.value_or(app_.label("type_lieu", row->type_lieu))).c_str());
        ImGui::TableNextColumn();
        if (row->sync_state == "synced") {
          ImGui::TextColored(ui::ok_colour(), "%s", app_.text("app.history.state.synced").c_str());
        } else if (row->sync_state == "quarantined") {
          ImGui::TextColored(ui::error_colour(), "%s", app_.text("app.history.state.quarantined").c_str());
        } else {
          ImGui::TextColored(ui::warn_colour(), "%s",
                             app_.text(enrolled ? "app.history.state.pending" : "app.history.state.local").c_str());
        }
        ImGui::TableNextColumn();
        if (ImGui::SmallButton((edit_label + "##e" + row->id).c_str())) {
          std::string view;
          if (app_.edit_record(row->id, view)) set_view(view);
        }
        ui::probe("history:edit:" + std::to_string(index));
        ImGui::SameLine();
        if (ImGui::SmallButton((delete_label + "##d" + row->id).c_str())) {
          pending_delete_id_ = row->id;
          pending_delete_label_ = (date ? format_date_french(*date) : row->date) + " · " + summary;
          delete_error_.clear();
        }
        ui::probe("history:delete:" + std::to_string(index));
      }
    }
    ImGui::EndTable();
  }
  history_->request(filter, visible_first, visible_count);
}

}  // namespace relais::app
