#include "platform.hpp"

#include <GLFW/glfw3.h>
#include <imgui.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl2.h>
#include <backends/imgui_impl_opengl3.h>
#include <stb_image_write.h>

#include "software_renderer.hpp"
#include "x11_presenter.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <stdexcept>
#include <vector>

namespace relais::app {

namespace {

std::string last_glfw_error;

void on_glfw_error(int /*code*/, const char* description) { last_glfw_error = description; }

// Latin-1 and Latin Extended-A (é, è, ç, œ...), Latin Extended-B and Additional so that people's
// and places' names from elsewhere show (Romanian ș ț, Vietnamese ễ ứ...), general punctuation
// (’ « » — … with the narrow no-break space), €, arrows, and the few symbols the app draws
// (✓ ✗ ● ○).
const ImWchar kGlyphRanges[] = {
    0x0020, 0x00FF, 0x0100, 0x017F, 0x0180, 0x024F, 0x1E00, 0x1EFF, 0x2000, 0x206F,
    0x20AC, 0x20AC, 0x2190, 0x21FF, 0x25CB, 0x25CF, 0x2713, 0x2717, 0,
};

constexpr float kBaseFontSize = 16.0f;

// The OpenGL path's glClearColor(0.97, 0.97, 0.96), in bytes.
constexpr std::uint32_t kClearColour = pack_rgb(247, 247, 245);

void apply_style(float scale) {
  ImGuiStyle style;
  ImGui::StyleColorsLight(&style);
  style.WindowRounding = 0.0f;
  style.FrameRounding = 4.0f;
  style.GrabRounding = 4.0f;
  style.FramePadding = ImVec2(8, 5);
  style.ItemSpacing = ImVec2(8, 7);
  style.WindowPadding = ImVec2(14, 12);
  style.ScrollbarSize = 16.0f;
  style.Colors[ImGuiCol_WindowBg] = ImVec4(0.97f, 0.97f, 0.96f, 1.0f);
  style.Colors[ImGuiCol_ChildBg] = ImVec4(0, 0, 0, 0);
  style.Colors[ImGuiCol_FrameBg] = ImVec4(1.0f, 1.0f, 1.0f, 1.0f);
  style.Colors[ImGuiCol_Border] = ImVec4(0.72f, 0.74f, 0.78f, 1.0f);
  style.Colors[ImGuiCol_Button] = ImVec4(0.88f, 0.90f, 0.94f, 1.0f);
  style.Colors[ImGuiCol_ButtonHovered] = ImVec4(0.78f, 0.84f, 0.94f, 1.0f);
  style.Colors[ImGuiCol_ButtonActive] = ImVec4(0.66f, 0.76f, 0.92f, 1.0f);
  style.Colors[ImGuiCol_Header] = ImVec4(0.80f, 0.86f, 0.96f, 1.0f);
  style.Colors[ImGuiCol_HeaderHovered] = ImVec4(0.72f, 0.80f, 0.95f, 1.0f);
  style.Colors[ImGuiCol_HeaderActive] = ImVec4(0.62f, 0.73f, 0.93f, 1.0f);
  style.FrameBorderSize = 1.0f;
  style.ScaleAllSizes(scale);
  ImGui::GetStyle() = style;
}

}  // namespace

std::optional<Renderer> parse_renderer(std::string_view name) {
  if (name == "software") return Renderer::software;
  if (name == "opengl") return Renderer::opengl;
  return std::nullopt;
}

Platform::Platform(Options options) : options_(std::move(options)) {
  glfwSetErrorCallback(on_glfw_error);
  if (glfwInit() != GLFW_TRUE) {
    throw std::runtime_error("cannot open a window: " + (last_glfw_error.empty() ? "no display" : last_glfw_error));
  }
  renderer_ = options_.renderer;
  if (renderer_ == Renderer::software && !create_software_window()) renderer_ = Renderer::opengl;
  if (renderer_ == Renderer::opengl) create_opengl_window();
  float scale_x = 1.0f;
  float scale_y = 1.0f;
  glfwGetWindowContentScale(window_, &scale_x, &scale_y);
  content_scale_ = std::clamp(std::max(scale_x, scale_y), 1.0f, 3.0f);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;
  io.IniFilename = nullptr;                 // the layout is fixed; nothing to remember
  io.ConfigInputTextCursorBlink = false;    // a blinking cursor would redraw twice a second
  if (renderer_ == Renderer::software) {
    ImGui_ImplGlfw_InitForOther(window_, true);
    io.BackendRendererName = "relais_software";
    io.BackendFlags |= ImGuiBackendFlags_RendererHasVtxOffset;  // draw_list() honours VtxOffset
  } else {
    ImGui_ImplGlfw_InitForOpenGL(window_, true);
    if (opengl3_) {
      ImGui_ImplOpenGL3_Init("#version 130");
    } else {
      ImGui_ImplOpenGL2_Init();
    }
  }
}

bool Platform::create_software_window() {
  glfwWindowHint(GLFW_RESIZABLE, options_.fixed_size ? GLFW_FALSE : GLFW_TRUE);
  // No OpenGL context: GLFW then never loads libGL's GLX nor Mesa's driver.
  glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
  window_ = glfwCreateWindow(options_.width, options_.height, options_.title.c_str(), nullptr, nullptr);
  if (window_ == nullptr) {
    const auto reason = last_glfw_error;
    glfwTerminate();
    throw std::runtime_error("cannot open a window: " + reason);
  }
  try {
    presenter_ = std::make_unique<X11Presenter>(window_);
  } catch (const std::exception& error) {
    // Not X11, or a visual we cannot write: OpenGL still can.
    std::cerr << "relais: " << error.what() << "; drawing with OpenGL instead\n";
    glfwDestroyWindow(window_);
    window_ = nullptr;
    glfwDefaultWindowHints();
    return false;
  }
  software_ = std::make_unique<SoftwareRenderer>();
  return true;
}

void Platform::create_opengl_window() {
  glfwWindowHint(GLFW_RESIZABLE, options_.fixed_size ? GLFW_FALSE : GLFW_TRUE);
  // ImGui draws flat triangles: no depth or stencil buffer (4 MB less at 1366x768).
  glfwWindowHint(GLFW_DEPTH_BITS, 0);
  glfwWindowHint(GLFW_STENCIL_BITS, 0);
  // OpenGL 3.0 first; a 2.1 context when the driver has nothing newer.
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
  window_ = glfwCreateWindow(options_.width, options_.height, options_.title.c_str(), nullptr, nullptr);
  if (window_ == nullptr) {
    opengl3_ = false;
    glfwDefaultWindowHints();
    glfwWindowHint(GLFW_RESIZABLE, options_.fixed_size ? GLFW_FALSE : GLFW_TRUE);
    glfwWindowHint(GLFW_DEPTH_BITS, 0);
    glfwWindowHint(GLFW_STENCIL_BITS, 0);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 2);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 1);
    window_ = glfwCreateWindow(options_.width, options_.height, options_.title.c_str(), nullptr, nullptr);
  }
  if (window_ == nullptr) {
    const auto reason = last_glfw_error;
    glfwTerminate();
    throw std::runtime_error("cannot open a window with OpenGL 2.1 or newer: " + reason);
  }
  glfwMakeContextCurrent(window_);
  glfwSwapInterval(1);
}

Platform::~Platform() {
  if (renderer_ == Renderer::opengl) {
    if (opengl3_) {
      ImGui_ImplOpenGL3_Shutdown();
    } else {
      ImGui_ImplOpenGL2_Shutdown();
    }
  }
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  presenter_.reset();  // its X resources before GLFW closes the display
  glfwDestroyWindow(window_);
  glfwTerminate();
}

const char* Platform::renderer_text_key() const {
  if (renderer_ == Renderer::software) return "app.settings.software";
  return opengl3_ ? "app.settings.gl3" : "app.settings.gl2";
}

bool Platform::should_close() const { return glfwWindowShouldClose(window_) == GLFW_TRUE; }

void Platform::wait_events(double timeout_seconds) {
  if (timeout_seconds > 0) {
    glfwWaitEventsTimeout(timeout_seconds);
  } else {
    glfwWaitEvents();
  }
}

void Platform::poll_events() { glfwPollEvents(); }

void Platform::wake() { glfwPostEmptyEvent(); }

void Platform::set_text_scale(float scale) {
  if (scale != text_scale_) {
    text_scale_ = scale;
    fonts_dirty_ = true;
  }
}

void Platform::build_fonts() {
  ImGuiIO& io = ImGui::GetIO();
  io.Fonts->Clear();
  const float size = std::round(kBaseFontSize * ui_scale());
  const auto regular = (options_.fonts_directory / "DejaVuSans.ttf").string();
  const auto bold = (options_.fonts_directory / "DejaVuSans-Bold.ttf").string();
  ImFontConfig config;
  config.OversampleH = 2;  // crisp enough, and a small atlas
  config.OversampleV = 1;
  fonts_.regular = io.Fonts->AddFontFromFileTTF(regular.c_str(), size, &config, kGlyphRanges);
  fonts_.bold = io.Fonts->AddFontFromFileTTF(bold.c_str(), size, &config, kGlyphRanges);
  fonts_.title = io.Fonts->AddFontFromFileTTF(bold.c_str(), std::round(size * 1.3f), &config, kGlyphRanges);
  if (fonts_.regular == nullptr || fonts_.bold == nullptr || fonts_.title == nullptr) {
    // Without the bundled fonts accents show as '?': say why, and still open with ImGui's font.
    std::cerr << "relais: fonts missing in " << options_.fonts_directory.string()
              << " (DejaVuSans.ttf, DejaVuSans-Bold.ttf): accented letters will not display\n";
    io.Fonts->Clear();
    fonts_.regular = fonts_.bold = fonts_.title = io.Fonts->AddFontDefault();
  }
  io.FontDefault = fonts_.regular;
  if (renderer_ == Renderer::software) {
    // Alpha only (the glyphs' coverage; the white pixel is 255): no RGBA copy is ever made.
    unsigned char* pixels = nullptr;
    int width = 0;
    int height = 0;
    io.Fonts->GetTexDataAsAlpha8(&pixels, &width, &height);
    software_->set_texture(pixels, width, height);
    io.Fonts->SetTexID(reinterpret_cast<ImTextureID>(std::intptr_t{1}));  // any non-null: the one texture
  } else if (opengl3_) {
    ImGui_ImplOpenGL3_DestroyFontsTexture();
    ImGui_ImplOpenGL3_CreateFontsTexture();
  } else {
    ImGui_ImplOpenGL2_DestroyFontsTexture();
    ImGui_ImplOpenGL2_CreateFontsTexture();
  }
  // The texture is built: the TrueType files (2 MB, bold read twice) are not needed any more,
  // nor the atlas's pixels (alpha and RGBA copies, 2.5 MB at 100 %): the renderer has its own.
  // A new text size builds everything again from the files.
  io.Fonts->ClearInputData();
  io.Fonts->ClearTexData();
  apply_style(ui_scale());
  fonts_dirty_ = false;
}

void Platform::begin_frame() {
  if (renderer_ == Renderer::opengl) {
    if (opengl3_) {
      ImGui_ImplOpenGL3_NewFrame();
    } else {
      ImGui_ImplOpenGL2_NewFrame();
    }
  }
  // After the backend's NewFrame, which creates the device objects the first time.
  if (fonts_dirty_) build_fonts();
  ImGui_ImplGlfw_NewFrame();
}

void Platform::render() {
  ImGui::Render();
  int width = 0;
  int height = 0;
  glfwGetFramebufferSize(window_, &width, &height);
  if (renderer_ == Renderer::software) {
    if (width <= 0 || height <= 0) return;  // minimised
    const PixelBuffer target = presenter_->buffer(width, height);
    SoftwareRenderer::clear(target, kClearColour);
    software_->render(*ImGui::GetDrawData(), target);
    return;
  }
  glViewport(0, 0, width, height);
  glClearColor(0.97f, 0.97f, 0.96f, 1.0f);
  glClear(GL_COLOR_BUFFER_BIT);
  if (opengl3_) {
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  } else {
    ImGui_ImplOpenGL2_RenderDrawData(ImGui::GetDrawData());
  }
}

void Platform::end_frame() {
  const auto start = std::chrono::steady_clock::now();
  render();
  if (renderer_ == Renderer::software) {
    presenter_->present();
  } else {
    glfwSwapBuffers(window_);
  }
  last_frame_time_ = std::chrono::steady_clock::now() - start;
}

std::vector<std::uint8_t> Platform::read_pixels(int& width, int& height) {
  glfwGetFramebufferSize(window_, &width, &height);
  const auto w = static_cast<std::size_t>(width);
  const auto h = static_cast<std::size_t>(height);
  std::vector<std::uint8_t> rgba(w * h * 4);
  if (renderer_ == Renderer::software) {
    const PixelBuffer frame = presenter_->buffer(width, height);
    for (std::size_t y = 0; y < h; ++y) {
      const std::uint32_t* row = frame.row(static_cast<int>(y));
      std::uint8_t* out = rgba.data() + y * w * 4;
      for (std::size_t x = 0; x < w; ++x) {
        out[x * 4 + 0] = static_cast<std::uint8_t>(row[x] >> 16);
        out[x * 4 + 1] = static_cast<std::uint8_t>(row[x] >> 8);
        out[x * 4 + 2] = static_cast<std::uint8_t>(row[x]);
        out[x * 4 + 3] = 255;
      }
    }
    return rgba;
  }
  std::vector<std::uint8_t> pixels(w * h * 4);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE, pixels.data());
  // OpenGL's rows start at the bottom; PNG's at the top.
  for (std::size_t row = 0; row < h; ++row) {
    std::copy_n(pixels.begin() + static_cast<std::ptrdiff_t>((h - 1 - row) * w * 4), w * 4,
                rgba.begin() + static_cast<std::ptrdiff_t>(row * w * 4));
  }
  for (std::size_t i = 3; i < rgba.size(); i += 4) rgba[i] = 255;  // opaque
  return rgba;
}

bool Platform::end_frame_to_png(const std::filesystem::path& path, std::string& error) {
  render();
  int width = 0;
  int height = 0;
  const auto rgba = read_pixels(width, height);
  if (renderer_ == Renderer::software) {
    presenter_->present();
  } else {
    glfwSwapBuffers(window_);
  }
  if (stbi_write_png(path.string().c_str(), width, height, 4, rgba.data(), width * 4) == 0) {
    error = "cannot write " + path.string();
    return false;
  }
  return true;
}

}  // namespace relais::app
