#pragma once
// The window, its OpenGL context and Dear ImGui, as one RAII object. OpenGL 3 when the driver
// has it, else OpenGL 2.1 (old laptops with only a basic driver). Fonts come from the assets
// (DejaVu Sans) with the glyphs French needs, sized by the monitor's content scale and the
// advisor's text-size setting.
#include <filesystem>
#include <string>

struct GLFWwindow;
struct ImFont;

namespace relais::app {

struct Fonts {
  ImFont* regular = nullptr;
  ImFont* bold = nullptr;
  ImFont* title = nullptr;
};

class Platform {
 public:
  struct Options {
    int width = 1280;
    int height = 720;
    bool fixed_size = false;  // screenshots: the exact size asked for
    std::string title = "Relais";
    std::filesystem::path fonts_directory;
  };

  // Throws std::runtime_error with a plain message when no window can be opened.
  explicit Platform(Options options);
  ~Platform();
  Platform(const Platform&) = delete;
  Platform& operator=(const Platform&) = delete;

  GLFWwindow* window() const { return window_; }
  bool should_close() const;
  // Sleeps until an event arrives (or `timeout_seconds` pass when > 0); never spins.
  void wait_events(double timeout_seconds);
  void poll_events();
  // Thread-safe: wakes wait_events() from a worker thread.
  static void wake();

  // Builds the font atlas again when the scale changed (call before begin_frame).
  void set_text_scale(float scale);
  const Fonts& fonts() const { return fonts_; }
  float ui_scale() const { return content_scale_ * text_scale_; }

  void begin_frame();
  void end_frame();  // renders and presents
  // Renders the current frame and writes it to a PNG instead of presenting it.
  bool end_frame_to_png(const std::filesystem::path& path, std::string& error);
  bool opengl3() const { return opengl3_; }

 private:
  void build_fonts();
  void render();

  Options options_;
  GLFWwindow* window_ = nullptr;
  bool opengl3_ = true;
  float content_scale_ = 1.0f;
  float text_scale_ = 1.0f;
  bool fonts_dirty_ = true;
  Fonts fonts_;
};

}  // namespace relais::app
