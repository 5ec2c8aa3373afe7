// relais: the advisor's desktop app. See README.md and docs/app.md.
//   relais [--db PATH] [--lang fr|en] [--size WxH] [--renderer software|opengl]
//   relais --db PATH --screenshot OUT.png [--view NAME] [--lang fr|en] [--size WxH]
//   relais --db PATH --script FILE       (the scripted UI test)
#include <imgui.h>
#include <imgui_internal.h>  // ErrorCheckEndFrameRecover

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "model/app_state.hpp"
#include "relais/assets.hpp"
#include "relais/dates.hpp"
#include "ui/app_ui.hpp"
#include "ui/platform.hpp"
#include "ui/test_driver.hpp"

namespace {

using namespace relais;

struct Arguments {
  std::optional<std::filesystem::path> db;
  std::optional<Lang> lang;
  int width = 1280;
  int height = 720;
  std::optional<std::filesystem::path> screenshot;
  std::string view;
  std::optional<std::filesystem::path> script;
  std::optional<Date> today;
  bool no_sync = false;
  bool timing = false;
  std::optional<app::Renderer> renderer;
};

constexpr const char* kUsage =
    "Usage: relais [--db PATH] [--lang fr|en] [--size WxH] [--no-sync] [--renderer software|opengl]\n"
    "       relais --db PATH --screenshot OUT.png [--view NAME] [--lang fr|en] [--size WxH]\n"
    "       relais --db PATH --script FILE [--size WxH]\n"
    "Views: session, workshop, equipment, history, sync, settings, statistics, exports, setup.\n"
    "--renderer: software (the default: drawn on the CPU, no OpenGL) or opengl (OpenGL 3, else 2.1);\n"
    "            also the RELAIS_RENDERER environment variable.\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "relais: " << message << "\n" << kUsage;
  std::exit(2);
}

Arguments parse(int argc, char** argv) {
  Arguments out;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--version") {
      std::cout << "relais " << relais_version() << '\n';
      std::exit(0);
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (arg == "--db") {
      out.db = value();
    } else if (arg == "--lang") {
      const auto lang = value();
      if (lang != "fr" && lang != "en") usage_error("--lang: fr or en, not " + lang);
      out.lang = lang == "fr" ? Lang::fr : Lang::en;
    } else if (arg == "--size") {
      const auto size = value();
      const auto x = size.find('x');
      out.width = x == std::string::npos ? 0 : std::atoi(size.substr(0, x).c_str());
      out.height = x == std::string::npos ? 0 : std::atoi(size.substr(x + 1).c_str());
      if (out.width < 320 || out.height < 240 || out.width > 8192 || out.height > 8192) {
        usage_error("--size: WIDTHxHEIGHT such as 1366x768, not " + size);
      }
    } else if (arg == "--screenshot") {
      out.screenshot = value();
    } else if (arg == "--view") {
      out.view = value();
      if (!app::AppUi::is_view(out.view)) usage_error("--view: unknown view " + out.view);
    } else if (arg == "--script") {
      out.script = value();
    } else if (arg == "--today") {  // tests: a fixed date
      const auto text = value();
      out.today = parse_date(text);
      if (!out.today) usage_error("--today: YYYY-MM-DD, not " + text);
    } else if (arg == "--renderer") {
      const auto name = value();
      out.renderer = app::parse_renderer(name);
      if (!out.renderer) usage_error("--renderer: software or opengl, not " + name);
    } else if (arg == "--no-sync") {
      out.no_sync = true;
    } else if (arg == "--timing") {  // benchmarks: print start-up times to stderr
      out.timing = true;
    } else {
      usage_error("unknown option " + arg);
    }
  }
  if (!out.renderer) {
    if (const char* env = std::getenv("RELAIS_RENDERER"); env != nullptr && *env != '\0') {
      out.renderer = app::parse_renderer(env);
      if (!out.renderer) std::cerr << "relais: RELAIS_RENDERER: software or opengl, not " << env << "; using software\n";
    }
  }
  return out;
}

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

int run(const Arguments& args, std::chrono::steady_clock::time_point started) {
  const auto assets = Assets::load(find_assets_directory());
  std::filesystem::path store_path;
  if (args.db) {
    store_path = *args.db;
  } else {
    store_path = default_store_path();
    std::filesystem::create_directories(store_path.parent_path());
  }
  app::Platform::Options window;
  window.width = args.width;
  window.height = args.height;
  window.fixed_size = args.screenshot.has_value();
  window.fonts_directory = assets.directory / "fonts";
  window.renderer = args.renderer.value_or(app::Renderer::software);
  app::Platform platform(window);

  app::AppState::Options options;
  options.store_path = store_path;
  options.lang = args.lang;
  options.today = args.today;
  options.background_sync = !args.no_sync && !args.screenshot;
  options.wake = [] { app::Platform::wake(); };
  app::AppState state(assets, options);
  state.start_background_sync();
  app::AppUi ui(state, platform);
  if (!args.view.empty()) ui.set_view(args.view);
  std::optional<app::TestDriver> driver;
  if (args.script) driver = app::TestDriver::load(*args.script);

  int frames_left = 3;  // ImGui lays out over a couple of frames after each change
  int frame_number = 0;
  int exit_code = 0;
  std::vector<double> frame_ms;  // --timing: ImGui::Render, rasterising and presenting, per frame
  const auto screenshot_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!platform.should_close()) {
    const bool scripted = driver && driver->active();
    if (frames_left <= 0 && !scripted && !args.screenshot) {
      // Idle: sleep until input or a worker's wake-up; a few redraws a second while sync moves.
      platform.wait_events(ui.animating() ? 0.25 : 0.0);
      frames_left = 3;
    } else {
      platform.poll_events();
    }
    try {
      if (state.poll_sync()) ui.on_data_changed();
    } catch (const std::exception& error) {
      state.report_error(error.what());  // a store error never closes the app: a banner says it
    }
    platform.set_text_scale(state.text_scale());
    platform.begin_frame();
    if (driver) driver->before_frame(ImGui::GetIO(), state, ui);
    ImGui::NewFrame();
    try {
      ui.frame();
    } catch (const std::exception& error) {
      // Closes what the frame left open, so that the next one starts clean.
      ImGui::ErrorCheckEndFrameRecover(nullptr);
      state.report_error(error.what());
    }
    ++frame_number;
    --frames_left;

    if (args.screenshot) {
      // A few frames for the layout, and until the history's first page is there.
      const bool settled = frame_number >= 4 && !ui.loading();
      if (settled || std::chrono::steady_clock::now() > screenshot_deadline) {
        std::string error;
        if (!platform.end_frame_to_png(*args.screenshot, error)) {
          std::cerr << "relais: " << error << '\n';
          return 1;
        }
        break;
      }
      platform.end_frame();
      continue;
    }
    if (driver) {
      if (const auto path = driver->take_screenshot()) {
        std::string error;
        if (!platform.end_frame_to_png(*path, error)) std::cerr << "relais: " << error << '\n';
      } else {
        platform.end_frame();
      }
      if (driver->quit_requested() || !driver->active()) {
        if (driver->failed()) {
          std::cerr << "relais: " << driver->failure() << '\n';
          exit_code = 3;
        }
        break;
      }
    } else {
      platform.end_frame();
    }
    if (args.timing) frame_ms.push_back(std::chrono::duration<double, std::milli>(platform.last_frame_time()).count());
    if (frame_number == 1 && args.timing) {
      std::cerr << "relais: first frame after " << elapsed_ms(started) << " ms\n";
    }
    try {
      state.save_drafts_if_changed();
    } catch (const std::exception& error) {
      state.report_error(error.what());
    }
  }
  if (args.timing && !frame_ms.empty()) {
    std::sort(frame_ms.begin(), frame_ms.end());
    std::cerr << "relais: " << frame_ms.size() << " frames drawn ("
              << (platform.renderer() == app::Renderer::software ? "software" : "opengl")
              << "), render and present: median " << frame_ms[frame_ms.size() / 2] << " ms, 95th percentile "
              << frame_ms[frame_ms.size() * 95 / 100] << " ms, slowest " << frame_ms.back() << " ms\n";
  }
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  const auto started = std::chrono::steady_clock::now();
  const auto args = parse(argc, argv);
  try {
    return run(args, started);
  } catch (const std::exception& error) {
    std::cerr << "relais: " << error.what() << '\n';
    return 1;
  }
}
