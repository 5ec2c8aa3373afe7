#pragma once
// Drives the real interface from a script, for the end-to-end UI test: it moves the mouse to
// named widgets, clicks, types and presses keys by feeding Dear ImGui's input, one step per
// frame, exactly where GLFW's events would go. Script lines:
//   view NAME                   show a screen (session, workshop, equipment, history, sync, settings)
//   click WIDGET                press and release the left button on a widget ("button:save")
//   hover WIDGET                move the mouse onto a widget, and leave it there
//   scroll N                    turn the mouse wheel N notches down (up when negative) where the
//                               mouse is, all in one frame (benchmarks browse the history with it)
//   type WIDGET TEXT...         click a text field, select all, type the rest of the line
//   key [ctrl+]KEY              press a key: s, a, enter, tab, escape, 1..6
//   wait N                      let N frames pass
//   expect-messages FORM N      FORM (session, workshop, lot, device, event) shows N messages
//   expect-widget WIDGET        the widget is on screen
//   wait-value WIDGET TEXT...   within 10 seconds, the widget shows TEXT (figures of the
//                               statistics, computed on a worker thread: "stat:accompagnements 3")
//   screenshot PATH             write the window to a PNG
//   quit
// '#' starts a comment. A step that fails stops the script: the app exits with status 3.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <imgui.h>

namespace relais::app {

class AppState;
class AppUi;

class TestDriver {
 public:
  // Throws std::runtime_error naming the line when the script cannot be read.
  static TestDriver load(const std::filesystem::path& path);

  bool active() const { return next_ < steps_.size() || wait_frames_ > 0; }
  bool failed() const { return !failure_.empty(); }
  const std::string& failure() const { return failure_; }
  bool quit_requested() const { return quit_; }

  // Between the platform's new frame and ImGui::NewFrame: applies the current step.
  void before_frame(ImGuiIO& io, AppState& app, AppUi& ui);
  // A screenshot the script asked for in this frame, if any.
  std::optional<std::filesystem::path> take_screenshot();

 private:
  struct Step {
    enum class Kind { view, move, mouse_down, mouse_up, key, chars, wheel, wait, expect_messages, expect_widget, wait_value, screenshot, quit };
    Kind kind;
    std::string target;  // widget, view, form, text, path
    int number = 0;      // key code, frames, expected count
    bool ctrl = false;
    int line = 0;
  };
  void fail(const Step& step, const std::string& why);

  std::vector<Step> steps_;
  std::size_t next_ = 0;
  int wait_frames_ = 0;
  std::size_t scrolled_for_ = 0;
  int value_frames_ = 0;  // frames the current wait-value step has waited  // the step that already scrolled its widget into view
  ImVec2 mouse_{-1, -1};
  bool mouse_down_ = false;
  int key_down_ = -1;
  bool ctrl_down_ = false;
  std::optional<std::filesystem::path> screenshot_;
  std::string failure_;
  bool quit_ = false;
};

}  // namespace relais::app
