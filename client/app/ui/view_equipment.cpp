// Collecte de matériel: open a lot, add its devices one after another, record their events.
#include <imgui.h>

#include <algorithm>

#include "app_ui.hpp"
#include "relais/dates.hpp"
#include "relais/records.hpp"
#include "relais/vocabulary.hpp"
#include "widgets.hpp"

namespace relais::app {

namespace {
float scale() { return ImGui::GetFontSize() / 16.0f; }
}  // namespace

void AppUi::view_equipment() {
  ImGui::PushFont(platform_.fonts().title);
  ImGui::TextUnformatted(app_.text("app.title.equipment").c_str());
  ImGui::PopFont();
  if (devices_generation_ != app_.data_generation() || devices_lot_id_ != app_.open_lot_id) {
    devices_ = app_.devices_of_open_lot();
    devices_generation_ = app_.data_generation();
    devices_lot_id_ = app_.open_lot_id;
  }
  const float bar_height = ImGui::GetFrameHeightWithSpacing() * 1.6f;
  ImGui::BeginChild("##equipment", ImVec2(0, -bar_height), false);

  // 1. The lot.
  auto& lot = app_.lot;
  auto& messages = app_.lot_messages;
  messages.reset_shown();
  const bool lot_open = !app_.open_lot_id.empty();
  ui::section_title(app_.text(lot_open ? "app.equipment.lot_open" : "app.equipment.new_lot"));
  ui::row_label(app_.text("app.field.date"), true);
  ui::text_field("field:lot_date", lot.date, app_.text("app.hint.date"), 140 * scale());
  ui::messages_for(messages, "date");
  ui::row_label(app_.set_label("type_donateur"), true);
  ui::code_radio(app_, "field:type_donateur", "type_donateur", lot.type_donateur);
  ui::messages_for(messages, "type_donateur");
  ui::row_label(app_.text("app.field.nom_donateur"));
  ui::text_field("field:nom_donateur", lot.nom_donateur, app_.text("app.hint.nom_donateur"));
  ui::messages_for(messages, "nom_donateur");
  ui::row_label(app_.text("app.field.lieu_collecte"));
  ui::place_combo(app_, "field:lot_lieu_id", lot.lieu_id, app_.text("app.none"));
  ui::messages_for(messages, "lieu_id");
  ui::row_label(app_.text("app.field.notes"));
  ui::text_field("field:lot_notes", lot.notes);
  ui::messages_for(messages, "notes");
  ImGui::Dummy(ImVec2(200 * scale() - ImGui::GetStyle().ItemSpacing.x, 0));
  ImGui::SameLine();
  if (ui::primary_button(app_.text(lot_open ? "app.equipment.save_lot" : "app.equipment.open_lot"), "button:save-lot") ||
      (save_requested_ && !lot_open)) {
    app_.save_lot();
  }
  if (lot_open) {
    ImGui::SameLine();
    if (ui::secondary_button(app_.text("app.equipment.another_lot"), "button:new-lot")) app_.new_lot();
  }
  for (const auto& line : messages.not_shown(app_.lang())) ImGui::TextColored(ui::error_colour(), "%s", line.c_str());

  if (!app_.open_lot_id.empty()) {
    // 2. Its devices.
    ui::section_title(app_.text("app.equipment.devices", {{"count", std::to_string(devices_.size())}}));
    if (devices_.empty()) ImGui::TextColored(ui::muted_colour(), "%s", app_.text("app.equipment.no_device").c_str());
    for (std::size_t i = 0; i < devices_.size(); ++i) {
      const auto& device = devices_[i];
      const bool selected = device.id == app_.open_device_id;
      if (ImGui::Selectable((device.summary + "##dev" + device.id).c_str(), selected)) {
        app_.open_device_id = device.id;
        app_.event_messages.clear();
      }
      ui::probe("device:" + std::to_string(i));
      ImGui::SameLine(std::max(ImGui::GetContentRegionAvail().x * 0.70f, 420 * scale()));
      ImGui::TextColored(ui::muted_colour(), "%s", device.devenir.c_str());
    }

    // 3. Add a device.
    auto& device = app_.device;
    auto& device_messages = app_.device_messages;
    device_messages.reset_shown();
    ui::section_title(app_.text("app.equipment.add_device"));
    ui::row_label(app_.set_label("type_appareil"), true);
    ui::code_combo(app_, "field:device_type", "type_appareil", device.type);
    ui::messages_for(device_messages, "type");
    ui::row_label(app_.text("app.field.marque_modele"));
    ui::text_field("field:marque", device.marque, app_.text("app.hint.marque"), 180 * scale());
    ImGui::SameLine();
    ui::text_field("field:modele", device.modele, app_.text("app.hint.modele"), 220 * scale());
    ui::messages_for(device_messages, "marque");
    ui::messages_for(device_messages, "modele");
    ui::row_label(app_.text("app.field.numero_serie"));
    ui::text_field("field:numero_serie", device.numero_serie, app_.text("app.hint.numero_serie"));
    ui::messages_for(device_messages, "numero_serie");
    ui::row_label(app_.set_label("etat_appareil"));
    ui::code_radio(app_, "field:etat", "etat_appareil", device.etat, true);
    ui::messages_for(device_messages, "etat");
    ui::row_label(app_.text("app.field.poids"));
    std::string default_weight;
    if (const auto* code = app_.vocabulary().set("type_appareil").find(device.type);
        code != nullptr && code->extra.contains("default_weight_kg")) {
      auto text = code->extra["default_weight_kg"].dump();
      if (app_.lang() == Lang::fr) std::replace(text.begin(), text.end(), '.', ',');
      default_weight = app_.text("app.hint.default_weight", {{"weight", text}});
    }
    ui::text_field("field:poids_kg", device.poids_kg, default_weight, 220 * scale());
    ImGui::SameLine();
    ImGui::TextUnformatted("kg");
    ui::messages_for(device_messages, "poids_kg");
    ui::row_label(app_.text("app.field.demarre"));
    ImGui::RadioButton((app_.text("app.unknown") + "##demarre0").c_str(), &device.demarre, 0);
    ImGui::SameLine();
    ImGui::RadioButton((app_.text("app.yes") + "##demarre1").c_str(), &device.demarre, 1);
    ui::probe("field:demarre:yes");
    ImGui::SameLine();
    ImGui::RadioButton((app_.text("app.no") + "##demarre2").c_str(), &device.demarre, 2);
    ui::row_label(app_.text("app.field.notes"));
    ui::text_field("field:device_notes", device.notes);
    ui::messages_for(device_messages, "notes");
    ImGui::Dummy(ImVec2(200 * scale() - ImGui::GetStyle().ItemSpacing.x, 0));
    ImGui::SameLine();
    if (ui::primary_button(app_.text("app.equipment.add_device_button"), "button:save-device") ||
        (save_requested_ && app_.open_device_id.empty())) {
      app_.save_device();
    }
    for (const auto& line : device_messages.not_shown(app_.lang())) {
      ImGui::TextColored(ui::error_colour(), "%s", line.c_str());
    }
  }

  if (!app_.open_device_id.empty()) {
    // 4. Events of the selected device.
    const LotDevice* selected = nullptr;
    for (const auto& device : devices_) {
      if (device.id == app_.open_device_id) selected = &device;
    }
    ui::section_title(app_.text("app.equipment.events_of", {{"device", selected ? selected->summary : std::string{}}}));
    if (selected != nullptr) {
      for (const auto& line : selected->events) ImGui::BulletText("%s", line.c_str());
      ImGui::TextColored(ui::muted_colour(), "%s",
                         app_.text("app.equipment.devenir", {{"devenir", selected->devenir}}).c_str());
    }
    auto& event = app_.event;
    auto& event_messages = app_.event_messages;
    event_messages.reset_shown();
    ui::row_label(app_.set_label("type_evenement"), true);
    ui::code_combo(app_, "field:event_type", "type_evenement", event.type);
    ui::messages_for(event_messages, "type");
    ui::row_label(app_.text("app.field.date"), true);
    ui::text_field("field:event_date", event.date, app_.text("app.hint.date"), 140 * scale());
    ui::messages_for(event_messages, "date");
    ui::row_label(app_.text("app.field.auteur"), true);
    ui::text_field("field:auteur", event.auteur, {}, 260 * scale());
    ui::messages_for(event_messages, "auteur");
    if (event.type == "efface") {
      ui::row_label(app_.set_label("methode_effacement"), true);
      ui::code_radio(app_, "field:methode", "methode_effacement", event.methode);
      ui::messages_for(event_messages, "methode");
      ui::row_label(app_.text("app.field.outil"), true);
      ui::text_field("field:outil", event.outil, app_.text("app.hint.outil"));
      ui::messages_for(event_messages, "outil");
      ui::row_label(app_.set_label("resultat_effacement"), true);
      ui::code_radio(app_, "field:resultat", "resultat_effacement", event.resultat);
      ui::messages_for(event_messages, "resultat");
      ui::row_label(app_.text("app.field.certificat"));
      ui::text_field("field:certificat", event.certificat, app_.text("app.hint.certificat"));
      ui::messages_for(event_messages, "certificat");
    }
    if (event.type == "remis") {
      ui::row_label(app_.text("app.field.code_beneficiaire"), true);
      ui::text_field("field:code_beneficiaire", event.code_beneficiaire, app_.text("app.hint.code_beneficiaire"), 260 * scale());
      ui::messages_for(event_messages, "code_beneficiaire");
      ui::row_label(app_.text("app.field.vente_solidaire"));
      ImGui::Checkbox("##vente", &event.vente_solidaire);
    }
    ui::row_label(app_.text("app.field.notes"));
    ui::text_field("field:event_notes", event.notes);
    ui::messages_for(event_messages, "notes");
    ImGui::Dummy(ImVec2(200 * scale() - ImGui::GetStyle().ItemSpacing.x, 0));
    ImGui::SameLine();
    if (ui::primary_button(app_.text("app.equipment.save_event"), "button:save-event") || save_requested_) {
      app_.save_event();
    }
    for (const auto& line : event_messages.not_shown(app_.lang())) {
      ImGui::PushStyleColor(ImGuiCol_Text, ui::error_colour());
      ImGui::TextWrapped("%s", line.c_str());
      ImGui::PopStyleColor();
    }
  }
  ImGui::EndChild();
  ImGui::Separator();
  if (app_.saving()) {
    ImGui::TextColored(ui::muted_colour(), "%s", app_.text("app.saving").c_str());
  } else if (!app_.last_saved_message.empty()) {
    ImGui::TextColored(ui::ok_colour(), "✓ %s", app_.last_saved_message.c_str());
  } else {
    ImGui::TextColored(ui::muted_colour(), "%s", app_.text("app.equipment.hint").c_str());
  }
}

}  // namespace relais::app
