#include "test_driver.hpp"

#include <GLFW/glfw3.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <chrono>

#include "../model/app_state.hpp"
#include "app_ui.hpp"
#include "widgets.hpp"

namespace relais::app {

namespace {

std::optional<int> key_code(const std::string& name) {
  if (name.size() == 1 && name[0] >= 'a' && name[0] <= 'z') return GLFW_KEY_A + (name[0] - 'a');
  if (name.size() == 1 && name[0] >= '0' && name[0] <= '9') return GLFW_KEY_0 + (name[0] - '0');
  if (name == "enter") return GLFW_KEY_ENTER;
  if (name == "tab") return GLFW_KEY_TAB;
  if (name == "escape") return GLFW_KEY_ESCAPE;
  if (name == "backspace") return GLFW_KEY_BACKSPACE;
  return std::nullopt;
}

const FormMessages* form_messages(const AppState& app, const std::string& form) {
  if (form == "session") return &app.individual_messages;
  if (form == "workshop") return &app.workshop_messages;
  if (form == "lot") return &app.lot_messages;
  if (form == "device") return &app.device_messages;
  if (form == "event") return &app.event_messages;
  return nullptr;
}

}  // namespace

TestDriver TestDriver::load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the UI script " + path.string());
  TestDriver driver;
  std::string text;
  int line_number = 0;
  using Kind = Step::Kind;
  while (std::getline(in, text)) {
    ++line_number;
    if (const auto hash = text.find('#'); hash != std::string::npos && (hash == 0 || text[hash - 1] == ' ')) {
      text.erase(hash);
    }
    std::istringstream line(text);
    std::string command;
    if (!(line >> command)) continue;
    std::string argument;
    line >> argument;
    std::string rest;
    std::getline(line, rest);
    if (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
    const auto bad = [&](const std::string& why) {
      return std::runtime_error(path.string() + ":" + std::to_string(line_number) + ": " + why);
    };
    auto& steps = driver.steps_;
    const auto add = [&](Kind kind, std::string target = {}, int number = 0, bool ctrl = false) {
      steps.push_back(Step{kind, std::move(target), number, ctrl, line_number});
    };
    if (command == "view") {
      add(Kind::view, argument);
      add(Kind::wait, {}, 2);
    } else if (command == "click" || command == "type") {
      if (argument.empty()) throw bad(command + " needs a widget name");
      add(Kind::move, argument);
      add(Kind::wait, {}, 1);
      add(Kind::mouse_down);
      add(Kind::mouse_up);
      add(Kind::wait, {}, 1);
      if (command == "type") {
        add(Kind::key, {}, GLFW_KEY_A, true);  // select what is there, to replace it
        add(Kind::chars, rest);
        add(Kind::wait, {}, 1);
      }
    } else if (command == "hover") {
      if (argument.empty()) throw bad("hover needs a widget name");
      add(Kind::move, argument);
      add(Kind::wait, {}, 1);
    } else if (command == "scroll") {
      const int notches = std::atoi(argument.c_str());
      if (notches == 0) throw bad("scroll needs a number of notches, not " + argument);
      add(Kind::wheel, {}, notches);
      add(Kind::wait, {}, 1);
    } else if (command == "key") {
      const bool ctrl = argument.rfind("ctrl+", 0) == 0;
      const auto code = key_code(ctrl ? argument.substr(5) : argument);
      if (!code) throw bad("unknown key " + argument);
      add(Kind::key, {}, *code, ctrl);
      add(Kind::wait, {}, 2);
    } else if (command == "wait") {
      add(Kind::wait, {}, std::max(1, std::atoi(argument.c_str())));
    } else if (command == "expect-messages") {
      add(Kind::expect_messages, argument, std::atoi(rest.c_str()));
    } else if (command == "expect-widget") {
      add(Kind::expect_widget, argument);
    } else if (command == "wait-value") {
      if (argument.empty()) throw bad("wait-value needs a widget name");
      add(Kind::wait_value, argument + '\n' + rest);
    } else if (command == "screenshot") {
      add(Kind::screenshot, argument);
      add(Kind::wait, {}, 1);
    } else if (command == "quit") {
      add(Kind::quit);
    } else {
      throw bad("unknown command " + command);
    }
  }
  return driver;
}

void TestDriver::fail(const Step& step, const std::string& why) {
  failure_ = "UI script line " + std::to_string(step.line) + ": " + why;
  next_ = steps_.size();
  quit_ = true;
}

void TestDriver::before_frame(ImGuiIO& io, AppState& app, AppUi& ui) {
  // Release last frame's key; keep the mouse where the script put it (GLFW would move it back).
  if (key_down_ >= 0) {
    io.KeysDown[key_down_] = false;
    key_down_ = -1;
  }
  io.KeyCtrl = false;
  io.MousePos = mouse_;
  io.MouseDown[0] = mouse_down_;
  if (wait_frames_ > 0) {
    --wait_frames_;
    return;
  }
  if (next_ >= steps_.size()) return;
  const Step& step = steps_[next_++];
  using Kind = Step::Kind;
  switch (step.kind) {
    case Kind::view:
      if (!AppUi::is_view(step.target)) return fail(step, "no view named " + step.target);
      ui.set_view(step.target);
      break;
    case Kind::move: {
      const auto rect = ui::find_probe(step.target);
      if (!rect) return fail(step, "no widget " + step.target + " on screen");
      if (!rect->visible && scrolled_for_ != next_) {
        // Scroll it into view first, then come back to this step.
        ui::scroll_to_probe(step.target);
        scrolled_for_ = next_;
        --next_;
        wait_frames_ = 2;
        break;
      }
      mouse_ = ImVec2((rect->min.x + rect->max.x) / 2, (rect->min.y + rect->max.y) / 2);
      io.MousePos = mouse_;
      break;
    }
    case Kind::mouse_down:
      mouse_down_ = true;
      io.MouseDown[0] = true;
      break;
    case Kind::mouse_up:
      mouse_down_ = false;
      io.MouseDown[0] = false;
      break;
    case Kind::key:
      key_down_ = step.number;
      io.KeysDown[key_down_] = true;
      io.KeyCtrl = step.ctrl;
      break;
    case Kind::chars:
      io.AddInputCharactersUTF8(step.target.c_str());
      break;
    case Kind::wheel:
      io.MouseWheel = static_cast<float>(-step.number);  // ImGui: positive scrolls up
      break;
    case Kind::wait:
      wait_frames_ = step.number - 1;
      break;
    case Kind::expect_messages: {
      const auto* messages = form_messages(app, step.target);
      if (messages == nullptr) return fail(step, "no form named " + step.target);
      if (static_cast<int>(messages->size()) != step.number) {
        std::string shown;
        for (const auto& line : messages->not_shown(app.lang())) shown += "\n  " + line;
        return fail(step, step.target + " shows " + std::to_string(messages->size()) + " messages, expected " +
                              std::to_string(step.number) + shown);
      }
      break;
    }
    case Kind::expect_widget:
      if (!ui::find_probe(step.target)) return fail(step, "no widget " + step.target + " on screen");
      break;
    case Kind::wait_value: {
      const auto split = step.target.find('\n');
      const auto widget = step.target.substr(0, split);
      const auto expected = step.target.substr(split + 1);
      const auto rect = ui::find_probe(widget);
      if (rect && rect->value == expected) {
        value_frames_ = 0;
        break;
      }
      // Frames pass fast in a script (no waiting for events): about 10 seconds, then fail.
      if (++value_frames_ > 1000) {
        value_frames_ = 0;
        return fail(step, rect ? widget + " shows \"" + rect->value + "\", expected \"" + expected + "\""
                               : "no widget " + widget + " on screen");
      }
      --next_;  // again next frame
      wait_frames_ = 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      break;
    }
    case Kind::screenshot:
      screenshot_ = step.target;
      break;
    case Kind::quit:
      quit_ = true;
      break;
  }
}

std::optional<std::filesystem::path> TestDriver::take_screenshot() {
  auto out = std::move(screenshot_);
  screenshot_.reset();
  return out;
}

}  // namespace relais::app
