#include "widgets.hpp"

#include <imgui_stdlib.h>

#include <algorithm>
#include <map>

#include "../model/app_state.hpp"
#include "../model/forms.hpp"
#include "relais/vocabulary.hpp"

namespace relais::app::ui {

namespace {

std::map<std::string, ProbeRect> probes;
std::string scroll_target;

float scale() { return ImGui::GetFontSize() / 16.0f; }

std::string hidden_id(const std::string& name) { return "##" + name; }

// Before the second and later buttons of a row: on the same line when `width` still fits,
// else on a new line starting at `left`.
void next_in_row(bool first, float width, float left) {
  if (first) return;
  ImGui::SameLine();
  if (ImGui::GetCursorPosX() + width > ImGui::GetWindowContentRegionMax().x) {
    ImGui::NewLine();
    ImGui::SetCursorPosX(left);
  }
}

}  // namespace

void begin_probes() { probes.clear(); }

void probe(const std::string& name) {
  probes[name] = ProbeRect{ImGui::GetItemRectMin(), ImGui::GetItemRectMax(), ImGui::IsItemVisible(), {}};
  if (name == scroll_target) {
    ImGui::SetScrollHereY(0.5f);
    scroll_target.clear();
  }
}

void probe(const std::string& name, const std::string& value) {
  probe(name);
  probes[name].value = value;
}

void scroll_to_probe(const std::string& name) { scroll_target = name; }

std::optional<ProbeRect> find_probe(const std::string& name) {
  const auto it = probes.find(name);
  if (it == probes.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> probe_names() {
  std::vector<std::string> out;
  for (const auto& [name, rect] : probes) out.push_back(name);
  return out;
}

void row_label(const std::string& label, bool required) {
  ImGui::AlignTextToFramePadding();
  ImGui::TextUnformatted(label.c_str());
  if (required) {
    ImGui::SameLine(0, 2);
    ImGui::TextColored(error_colour(), "*");
  }
  const float column = 200.0f * scale();
  if (ImGui::GetItemRectMax().x - ImGui::GetWindowPos().x + ImGui::GetStyle().ItemSpacing.x > column) {
    // Too long for the label column (a long label, English, a big text size): the widget goes
    // under it, still aligned with the others.
    ImGui::SetCursorPosX(column);
  } else {
    ImGui::SameLine(column);
  }
}

float field_width() {
  return std::min(ImGui::GetContentRegionAvail().x, 440.0f * scale());
}

void section_title(const std::string& title) {
  ImGui::Spacing();
  ImGui::PushFont(ImGui::GetIO().Fonts->Fonts.Size > 1 ? ImGui::GetIO().Fonts->Fonts[1] : nullptr);
  ImGui::TextUnformatted(title.c_str());
  ImGui::PopFont();
  ImGui::Separator();
}

void messages_for(const FormMessages& messages, const std::string& field) {
  for (const auto& message : messages.take(field)) {
    ImGui::Dummy(ImVec2(200.0f * scale() - ImGui::GetStyle().ItemSpacing.x, 0));
    ImGui::SameLine();
    ImGui::PushStyleColor(ImGuiCol_Text, error_colour());
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + field_width() + 120.0f * scale());
    ImGui::TextWrapped("%s", message.c_str());
    ImGui::PopTextWrapPos();
    ImGui::PopStyleColor();
  }
}

void help_text(const std::string& text) {
  ImGui::PushStyleColor(ImGuiCol_Text, muted_colour());
  ImGui::TextWrapped("%s", text.c_str());
  ImGui::PopStyleColor();
}

bool text_field(const std::string& name, std::string& value, const std::string& hint, float width) {
  ImGui::SetNextItemWidth(width > 0 ? width : field_width());
  const bool changed = ImGui::InputTextWithHint(hidden_id(name).c_str(), hint.c_str(), &value);
  probe(name);
  return changed;
}

bool multiline_field(const std::string& name, std::string& value, float lines) {
  const bool changed = ImGui::InputTextMultiline(hidden_id(name).c_str(), &value,
                                                 ImVec2(field_width(), ImGui::GetTextLineHeight() * lines + 8));
  probe(name);
  return changed;
}

bool int_field(const std::string& name, int& value, int min, int max, float width) {
  const float total_width = width > 0 ? width : 130.0f * scale();
  ImGui::SetNextItemWidth(total_width);
  bool changed = ImGui::InputInt(hidden_id(name).c_str(), &value, 1, 10);
  probe(name);
  // The item is the group of the number and its -/+ buttons: point the probe at the number.
  auto& rect = probes[name];
  const float buttons = 2 * (ImGui::GetFrameHeight() + ImGui::GetStyle().ItemInnerSpacing.x);
  rect.max.x = rect.min.x + std::max(8.0f, total_width - buttons);
  if (changed) value = std::clamp(value, min, max);
  return changed;
}

bool code_combo(AppState& app, const std::string& name, const char* set, std::string& value, const char* empty_label) {
  const auto& codes = app.vocabulary().set(set).codes;
  std::string preview = value.empty() ? (empty_label ? empty_label : "") : app.label(set, value);
  bool changed = false;
  ImGui::SetNextItemWidth(field_width());
  if (ImGui::BeginCombo(hidden_id(name).c_str(), preview.c_str())) {
    if (empty_label != nullptr) {
      if (ImGui::Selectable(empty_label, value.empty())) {
        value.clear();
        changed = true;
      }
    }
    for (const auto& code : codes) {
      const bool selected = value == code.code;
      if (ImGui::Selectable((code.label(app.lang()) + "##" + code.code).c_str(), selected)) {
        value = code.code;
        changed = true;
      }
      probe(name + ":" + code.code);
      if (selected) ImGui::SetItemDefaultFocus();
    }
    ImGui::EndCombo();
  }
  probe(name);
  return changed;
}

bool code_radio(AppState& app, const std::string& name, const char* set, std::string& value, bool allow_none) {
  bool changed = false;
  bool first = true;
  for (const auto& code : app.vocabulary().set(set).codes) {
    const auto label = code.label(app.lang());
    next_in_row(first, ImGui::CalcTextSize(label.c_str()).x + ImGui::GetStyle().FramePadding.x * 2, 200.0f * scale());
    first = false;
    const bool selected = value == code.code;
    if (toggle_button(label, name + code.code, selected)) {
      value = selected && allow_none ? std::string{} : code.code;
      changed = true;
    }
    probe(name + ":" + code.code);
  }
  return changed;
}

bool code_chips(AppState& app, const std::string& name, const char* set, std::set<std::string>& values) {
  bool changed = false;
  const float left = ImGui::GetCursorPosX();
  bool first = true;
  for (const auto& code : app.vocabulary().set(set).codes) {
    const bool selected = values.count(code.code) != 0;
    const auto label = (selected ? "✓ " : "") + code.label(app.lang());
    next_in_row(first, ImGui::CalcTextSize(label.c_str()).x + ImGui::GetStyle().FramePadding.x * 2, left);
    first = false;
    if (toggle_button(label, name + code.code, selected)) {
      if (selected) {
        values.erase(code.code);
      } else {
        values.insert(code.code);
      }
      changed = true;
    }
    probe(name + ":" + code.code);
  }
  return changed;
}

bool place_combo(AppState& app, const std::string& name, std::string& lieu_id, const std::string& none_label) {
  bool changed = false;
  auto preview = app.place_label(lieu_id);
  if (preview.empty()) preview = lieu_id.empty() ? none_label : lieu_id;
  ImGui::SetNextItemWidth(field_width());
  if (ImGui::BeginCombo(hidden_id(name).c_str(), preview.c_str())) {
    if (ImGui::Selectable(none_label.c_str(), lieu_id.empty())) {
      lieu_id.clear();
      changed = true;
    }
    for (std::size_t i = 0; i < app.places().size(); ++i) {
      const auto& place = app.places()[i];
      if (ImGui::Selectable((place.label + "##" + place.id).c_str(), place.id == lieu_id)) {
        lieu_id = place.id;
        changed = true;
      }
      probe(name + ":" + std::to_string(i));
    }
    ImGui::EndCombo();
  }
  probe(name);
  return changed;
}

bool choice_combo(const std::string& name, float width, std::string& value,
                  const std::vector<std::pair<std::string, std::string>>& choices) {
  std::string preview = choices.empty() ? std::string{} : choices.front().second;
  for (const auto& [code, label] : choices) {
    if (code == value) preview = label;
  }
  bool changed = false;
  ImGui::SetNextItemWidth(width);
  if (ImGui::BeginCombo(hidden_id(name).c_str(), preview.c_str(), ImGuiComboFlags_HeightLarge)) {
    for (const auto& [code, label] : choices) {
      if (ImGui::Selectable((label + "##" + code).c_str(), code == value)) {
        value = code;
        changed = true;
      }
      probe(name + ":" + (code.empty() ? std::string("all") : code));
    }
    ImGui::EndCombo();
  }
  probe(name);
  return changed;
}

bool toggle_button(const std::string& label, const std::string& id, bool selected) {
  if (selected) ImGui::PushStyleColor(ImGuiCol_Button, ImGui::GetStyleColorVec4(ImGuiCol_HeaderActive));
  const bool pressed = ImGui::Button((label + "##" + id).c_str());
  if (selected) ImGui::PopStyleColor();
  return pressed;
}


bool primary_button(const std::string& label, const std::string& name) {
  ImGui::PushStyleColor(ImGuiCol_Button, ImVec4(0.13f, 0.36f, 0.72f, 1.0f));
  ImGui::PushStyleColor(ImGuiCol_ButtonHovered, ImVec4(0.18f, 0.44f, 0.82f, 1.0f));
  ImGui::PushStyleColor(ImGuiCol_ButtonActive, ImVec4(0.10f, 0.28f, 0.60f, 1.0f));
  ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1, 1, 1, 1));
  const bool pressed = ImGui::Button((label + "##" + name).c_str());
  ImGui::PopStyleColor(4);
  probe(name);
  return pressed;
}

bool secondary_button(const std::string& label, const std::string& name) {
  const bool pressed = ImGui::Button((label + "##" + name).c_str());
  probe(name);
  return pressed;
}

}  // namespace relais::app::ui
