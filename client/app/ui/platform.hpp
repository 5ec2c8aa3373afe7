#pragma once
// The window, its renderer and Dear ImGui, as one RAII object. Two renderers:
// - software (the default): our own rasteriser (software_renderer.hpp) put in the window with
//   Xlib, no OpenGL loaded. Low-end laptops often have no GPU driver beyond Mesa's llvmpipe,
//   which costs 60 MB of memory to draw ImGui's flat triangles; the app redraws only on input,
//   so a frame on the CPU costs nothing while idle.
// - opengl: OpenGL 3 when the driver has it, else OpenGL 2.1.
// Fonts come from the assets (DejaVu Sans) with the glyphs French needs, sized by the
// monitor's content scale and the advisor's text-size setting.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct GLFWwindow;
struct ImFont;

namespace relais::app {

class SoftwareRenderer;
class X11Presenter;

enum class Renderer { software, opengl };
// "software" or "opengl" (the --renderer option and RELAIS_RENDERER); nothing for anything else.
std::optional<Renderer> parse_renderer(std::string_view name);

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
    Renderer renderer = Renderer::software;
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
  Renderer renderer() const { return renderer_; }
  bool opengl3() const { return opengl3_; }
  // The translation key naming the renderer in use (Paramètres).
  const char* renderer_text_key() const;
  // Time spent in the last end_frame(): ImGui::Render, rasterising and presenting.
  std::chrono::steady_clock::duration last_frame_time() const { return last_frame_time_; }

 private:
  void create_opengl_window();
  bool create_software_window();
  void build_fonts();
  void render();
  // The frame as RGBA rows from the top, for a PNG.
  std::vector<std::uint8_t> read_pixels(int& width, int& height);

  Options options_;
  GLFWwindow* window_ = nullptr;
  Renderer renderer_ = Renderer::software;
  std::unique_ptr<SoftwareRenderer> software_;
  std::unique_ptr<X11Presenter> presenter_;
  std::chrono::steady_clock::duration last_frame_time_{};
  bool opengl3_ = true;
  float content_scale_ = 1.0f;
  float text_scale_ = 1.0f;
  bool fonts_dirty_ = true;
  Fonts fonts_;
};

}  // namespace relais::app
