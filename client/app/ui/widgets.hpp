#pragma once
// Small ImGui building blocks shared by the screens: labelled form rows, code pickers that show
// the vocabulary's labels and store its codes, quick multi-select chips, inline messages. Each
// interactive widget is registered under a stable name ("field:duree", "button:save") so that
// the scripted UI test can find and click it like a user would.
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <imgui.h>

namespace relais::app {
class AppState;
class FormMessages;
}

namespace relais::app::ui {

// Where each named widget was drawn in the last frame (for the test driver).
struct ProbeRect {
  ImVec2 min;
  ImVec2 max;
  bool visible = true;  // false when scrolled out of its window
  std::string value;    // what the widget shows, when it registered it (figures of the statistics)
};
// Scrolls the named widget into view the next time it is drawn (as a user would scroll to it).
void scroll_to_probe(const std::string& name);
void begin_probes();
void probe(const std::string& name);  // the last item
void probe(const std::string& name, const std::string& value);  // the last item, showing `value`
std::optional<ProbeRect> find_probe(const std::string& name);
std::vector<std::string> probe_names();

// A form row: the label in a left column, then the widget on the same line.
void row_label(const std::string& label, bool required = false);
float field_width();  // the width of a widget in the right column
void section_title(const std::string& title);
void messages_for(const FormMessages& messages, const std::string& field);
void help_text(const std::string& text);

bool text_field(const std::string& name, std::string& value, const std::string& hint = {}, float width = 0);
bool multiline_field(const std::string& name, std::string& value, float lines);
bool int_field(const std::string& name, int& value, int min, int max, float width = 0);
// A drop-down of a vocabulary set; `empty_label` adds a "none" choice.
bool code_combo(AppState& app, const std::string& name, const char* set, std::string& value,
                const char* empty_label = nullptr);
// One button per code, on one line (radio behaviour); for short sets.
bool code_radio(AppState& app, const std::string& name, const char* set, std::string& value, bool allow_none = false);
// Toggle chips that wrap over lines; for themes and equipment.
bool code_chips(AppState& app, const std::string& name, const char* set, std::set<std::string>& values);
bool place_combo(AppState& app, const std::string& name, std::string& lieu_id, const std::string& none_label);
// A combo over a few fixed choices {value, label}; the first one's label shows for an unknown value.
bool choice_combo(const std::string& name, float width, std::string& value,
                  const std::vector<std::pair<std::string, std::string>>& choices);

// A button drawn in the "selected" colour while its choice is the current one.
bool toggle_button(const std::string& label, const std::string& id, bool selected);
bool primary_button(const std::string& label, const std::string& name);
bool secondary_button(const std::string& label, const std::string& name);

// Colours used for meaning, not decoration.
inline ImVec4 error_colour() { return {0.70f, 0.08f, 0.08f, 1.0f}; }
inline ImVec4 ok_colour() { return {0.05f, 0.45f, 0.18f, 1.0f}; }
inline ImVec4 warn_colour() { return {0.72f, 0.42f, 0.0f, 1.0f}; }
inline ImVec4 muted_colour() { return {0.38f, 0.40f, 0.44f, 1.0f}; }

}  // namespace relais::app::ui
