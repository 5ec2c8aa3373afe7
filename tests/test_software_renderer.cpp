// The desktop app's software rasteriser of Dear ImGui's draw data (client/app/ui/software_renderer):
// exact pixels of rectangles and triangles, clipping, blending, texture sampling and the fill
// rule, on hand-made draw lists; then a real ImGui frame with text.
#include <catch2/catch.hpp>

#include <imgui.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "ui/software_renderer.hpp"

using relais::app::pack_rgb;
using relais::app::PixelBuffer;
using relais::app::SoftwareRenderer;

namespace {

constexpr std::uint32_t kBlack = pack_rgb(0, 0, 0);
constexpr std::uint32_t kWhite = pack_rgb(255, 255, 255);
const auto kTexture = reinterpret_cast<ImTextureID>(std::intptr_t{1});

unsigned r_of(std::uint32_t p) { return (p >> 16) & 0xFFu; }
unsigned g_of(std::uint32_t p) { return (p >> 8) & 0xFFu; }
unsigned b_of(std::uint32_t p) { return p & 0xFFu; }

// A frame of `width` x `height` pixels (with a wider stride, to catch row mistakes) and one
// draw list filled by hand.
class Scene {
 public:
  Scene(int width, int height, std::uint32_t background = kBlack)
      : pixels_(static_cast<std::size_t>((width + 3) * height), background) {
    target_ = {pixels_.data(), width, height, width + 3};
    data_.Valid = true;
    data_.CmdListsCount = 1;
    data_.CmdLists = lists_.data();
    data_.DisplayPos = ImVec2(0, 0);
    data_.DisplaySize = ImVec2(static_cast<float>(width), static_cast<float>(height));
    data_.FramebufferScale = ImVec2(1, 1);
  }

  // Adds a vertex, returns its index.
  ImDrawIdx vertex(float x, float y, ImU32 col, float u = 0, float v = 0) {
    ImDrawVert vert;
    vert.pos = ImVec2(x, y);
    vert.uv = ImVec2(u, v);
    vert.col = col;
    list_.VtxBuffer.push_back(vert);
    return static_cast<ImDrawIdx>(list_.VtxBuffer.Size - 1);
  }
  void triangle(ImDrawIdx a, ImDrawIdx b, ImDrawIdx c) {
    list_.IdxBuffer.push_back(a);
    list_.IdxBuffer.push_back(b);
    list_.IdxBuffer.push_back(c);
  }
  // ImGui's PrimRect/PrimRectUV layout: a b c, a c d, corners clockwise from the top-left.
  void rect(float x0, float y0, float x1, float y1, ImU32 col, ImVec2 uv0 = ImVec2(0, 0), ImVec2 uv1 = ImVec2(0, 0)) {
    const auto a = vertex(x0, y0, col, uv0.x, uv0.y);
    const auto b = vertex(x1, y0, col, uv1.x, uv0.y);
    const auto c = vertex(x1, y1, col, uv1.x, uv1.y);
    const auto d = vertex(x0, y1, col, uv0.x, uv1.y);
    triangle(a, b, c);
    triangle(a, c, d);
  }
  // One command over every index added since the last one.
  void command(ImVec4 clip, ImTextureID texture = nullptr) {
    ImDrawCmd cmd;
    cmd.ClipRect = clip;
    cmd.TextureId = texture;
    cmd.IdxOffset = static_cast<unsigned>(commanded_);
    cmd.ElemCount = static_cast<unsigned>(list_.IdxBuffer.Size - commanded_);
    commanded_ = list_.IdxBuffer.Size;
    list_.CmdBuffer.push_back(cmd);
  }
  void command(ImTextureID texture = nullptr) {
    command(ImVec4(0, 0, static_cast<float>(target_.width), static_cast<float>(target_.height)), texture);
  }

  void render(SoftwareRenderer& renderer) { renderer.render(data_, target_); }
  std::uint32_t at(int x, int y) const { return target_.row(y)[x]; }
  const PixelBuffer& target() const { return target_; }

 private:
  std::vector<std::uint32_t> pixels_;
  PixelBuffer target_;
  ImDrawList list_{nullptr};
  std::array<ImDrawList*, 1> lists_{&list_};
  ImDrawData data_;
  int commanded_ = 0;
};

}  // namespace

TEST_CASE("software renderer: a filled rectangle covers exactly the pixels whose centres are inside", "[render]") {
  SoftwareRenderer renderer;
  Scene scene(12, 12);
  scene.rect(2, 3, 6, 8, IM_COL32(255, 0, 0, 255));
  // On half pixels: a centre on the left side is in, on the right side out; on the top side
  // out, on the bottom side in (OpenGL's rule in its y-up window, as the OpenGL path draws).
  scene.rect(8.5f, 1.5f, 10.5f, 3.5f, IM_COL32(0, 255, 0, 255));
  scene.command();
  scene.render(renderer);
  CHECK(renderer.counts().solid_rects == 2);
  CHECK(renderer.counts().triangles == 0);
  for (int y = 0; y < 12; ++y) {
    for (int x = 0; x < 12; ++x) {
      INFO("pixel " << x << "," << y);
      std::uint32_t expected = kBlack;
      if (x >= 2 && x < 6 && y >= 3 && y < 8) expected = pack_rgb(255, 0, 0);
      if (x >= 8 && x < 10 && y >= 2 && y <= 3) expected = pack_rgb(0, 255, 0);
      CHECK(scene.at(x, y) == expected);
    }
  }
}

TEST_CASE("software renderer: the command's clip rectangle bounds what is drawn", "[render]") {
  SoftwareRenderer renderer;
  Scene scene(10, 10);
  scene.rect(0, 0, 10, 10, IM_COL32(255, 255, 255, 255));
  scene.command(ImVec4(2, 3, 5, 7));
  // A triangle over the whole frame, clipped the same way.
  const auto a = scene.vertex(-20, -20, IM_COL32(0, 0, 255, 255));
  const auto b = scene.vertex(40, -20, IM_COL32(0, 0, 255, 255));
  const auto c = scene.vertex(-20, 40, IM_COL32(0, 0, 255, 255));
  scene.triangle(a, b, c);
  scene.command(ImVec4(6, 6, 8, 9));
  scene.render(renderer);
  for (int y = 0; y < 10; ++y) {
    for (int x = 0; x < 10; ++x) {
      INFO("pixel " << x << "," << y);
      std::uint32_t expected = kBlack;
      if (x >= 2 && x < 5 && y >= 3 && y < 7) expected = kWhite;
      if (x >= 6 && x < 8 && y >= 6 && y < 9) expected = pack_rgb(0, 0, 255);
      CHECK(scene.at(x, y) == expected);
    }
  }
}

TEST_CASE("software renderer: source-over blending of a translucent colour", "[render]") {
  SoftwareRenderer renderer;
  Scene scene(4, 4, kWhite);
  scene.rect(0, 0, 4, 4, IM_COL32(0, 0, 255, 128));
  scene.command();
  scene.render(renderer);
  // 255 * (1 - 128/255) = 127 for red and green; blue stays 255.
  CHECK(scene.at(1, 1) == pack_rgb(127, 127, 255));
  // A second layer over it: 127 * 127/255 = 63.25.
  Scene twice(4, 4, kWhite);
  twice.rect(0, 0, 4, 4, IM_COL32(0, 0, 255, 128));
  twice.rect(0, 0, 4, 4, IM_COL32(0, 0, 255, 128));
  twice.command();
  twice.render(renderer);
  CHECK(twice.at(2, 2) == pack_rgb(63, 63, 255));
  // Fully transparent: nothing changes.
  Scene clear(4, 4, kWhite);
  clear.rect(0, 0, 4, 4, IM_COL32(0, 0, 0, 0));
  clear.command();
  clear.render(renderer);
  CHECK(clear.at(0, 0) == kWhite);
}

TEST_CASE("software renderer: a textured quad samples the alpha texture, modulated by the colour", "[render]") {
  // A 4x4 alpha texture: texel (x, y) = 16 * (4 * y + x) + 15.
  std::vector<std::uint8_t> alpha(16);
  for (int i = 0; i < 16; ++i) alpha[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(16 * i + 15);
  SoftwareRenderer renderer;
  renderer.set_texture(alpha.data(), 4, 4);

  SECTION("one pixel per texel: each pixel centre on a texel centre") {
    Scene scene(6, 6);
    scene.rect(1, 1, 5, 5, IM_COL32(255, 255, 255, 255), ImVec2(0, 0), ImVec2(1, 1));
    scene.command(kTexture);
    scene.render(renderer);
    CHECK(renderer.counts().textured_rects == 1);
    for (int y = 0; y < 4; ++y) {
      for (int x = 0; x < 4; ++x) {
        INFO("texel " << x << "," << y);
        const unsigned t = 16u * static_cast<unsigned>(4 * y + x) + 15u;
        CHECK(scene.at(x + 1, y + 1) == pack_rgb(t, t, t));  // white over black at alpha t
      }
    }
    CHECK(scene.at(0, 0) == kBlack);
    CHECK(scene.at(5, 5) == kBlack);
  }
  SECTION("two texels per pixel across, as glyphs oversampled twice horizontally: their mean") {
    Scene scene(2, 4);
    scene.rect(0, 0, 2, 4, IM_COL32(255, 255, 255, 255), ImVec2(0, 0), ImVec2(1, 1));
    scene.command(kTexture);
    scene.render(renderer);
    // Pixel 0's centre is u = 0.25, between texels 0 and 1 of the row.
    for (int y = 0; y < 4; ++y) {
      const unsigned left = (16u * static_cast<unsigned>(4 * y) + 15u + 16u * static_cast<unsigned>(4 * y + 1) + 15u + 1u) / 2u;
      CHECK(r_of(scene.at(0, y)) == Approx(left).margin(1));
    }
  }
  SECTION("the colour's alpha multiplies the texture's, its RGB is kept") {
    Scene scene(4, 4);
    scene.rect(0, 0, 4, 4, IM_COL32(255, 0, 0, 128), ImVec2(0, 0), ImVec2(1, 1));
    scene.command(kTexture);
    scene.render(renderer);
    CHECK(scene.at(3, 3) == pack_rgb(128, 0, 0));  // texel (3, 3) is 255: the colour's 128
    // Texel (0, 0) is 15: alpha 128 * 15 / 255, 7.5.
    CHECK(r_of(scene.at(0, 0)) == Approx(128.0 * 15.0 / 255.0).margin(1));
    CHECK(g_of(scene.at(0, 0)) == 0);
  }
  SECTION("one texture coordinate for the whole quad (ImGui's white pixel): a flat colour") {
    Scene scene(4, 4);
    // (3.5/4, 3.5/4): the centre of texel (3, 3), 255.
    scene.rect(0, 0, 4, 4, IM_COL32(0, 255, 0, 255), ImVec2(0.875f, 0.875f), ImVec2(0.875f, 0.875f));
    scene.command(kTexture);
    scene.render(renderer);
    CHECK(renderer.counts().solid_rects == 1);
    CHECK(scene.at(2, 2) == pack_rgb(0, 255, 0));
  }
  SECTION("a command without a texture ignores the coordinates") {
    Scene scene(4, 4);
    scene.rect(0, 0, 4, 4, IM_COL32(0, 255, 0, 255), ImVec2(0, 0), ImVec2(1, 1));
    scene.command(nullptr);
    scene.render(renderer);
    CHECK(scene.at(0, 0) == pack_rgb(0, 255, 0));
  }
}

TEST_CASE("software renderer: triangles sharing an edge draw each pixel once (fill rule)", "[render]") {
  SoftwareRenderer renderer;
  const ImU32 half_red = IM_COL32(255, 0, 0, 128);
  const std::uint32_t once = pack_rgb(128, 0, 0);  // 255 * 128/255 over black; twice would be 192
  SECTION("a square cut along a diagonal through pixel centres") {
    Scene scene(8, 8);
    const auto a = scene.vertex(0, 0, half_red);
    const auto b = scene.vertex(8, 0, half_red);
    const auto c = scene.vertex(8, 8, half_red);
    const auto d = scene.vertex(0, 8, half_red);
    // Not the a-b-c a-c-d rectangle pattern: drawn as two triangles, along b-d.
    scene.triangle(a, b, d);
    scene.triangle(b, c, d);
    scene.command();
    scene.render(renderer);
    CHECK(renderer.counts().triangles == 2);
    for (int y = 0; y < 8; ++y) {
      for (int x = 0; x < 8; ++x) {
        INFO("pixel " << x << "," << y);
        CHECK(scene.at(x, y) == once);
      }
    }
  }
  SECTION("a fan of four triangles around a pixel centre, edges through pixel centres") {
    Scene scene(10, 10);
    const auto centre = scene.vertex(4.5f, 4.5f, half_red);
    const std::array<ImDrawIdx, 4> corners{scene.vertex(0.5f, 0.5f, half_red), scene.vertex(8.5f, 0.5f, half_red),
                                           scene.vertex(8.5f, 8.5f, half_red), scene.vertex(0.5f, 8.5f, half_red)};
    for (std::size_t k = 0; k < 4; ++k) scene.triangle(centre, corners[k], corners[(k + 1) % 4]);
    scene.command();
    scene.render(renderer);
    CHECK(renderer.counts().triangles == 4);
    for (int y = 0; y < 10; ++y) {
      for (int x = 0; x < 10; ++x) {
        INFO("pixel " << x << "," << y);
        // Centres in [0.5, 8.5) across, (0.5, 8.5] down: the left and bottom sides in.
        const bool inside = x >= 0 && x < 8 && y >= 1 && y <= 8;
        CHECK(scene.at(x, y) == (inside ? once : kBlack));
      }
    }
  }
  SECTION("both windings give the same pixels") {
    Scene clockwise(8, 8);
    Scene counter(8, 8);
    for (Scene* scene : {&clockwise, &counter}) {
      const auto a = scene->vertex(1.2f, 0.7f, half_red);
      const auto b = scene->vertex(7.3f, 2.9f, half_red);
      const auto c = scene->vertex(2.6f, 7.1f, half_red);
      if (scene == &clockwise) {
        scene->triangle(a, b, c);
      } else {
        scene->triangle(a, c, b);
      }
      scene->command();
      scene->render(renderer);
    }
    int drawn = 0;
    for (int y = 0; y < 8; ++y) {
      for (int x = 0; x < 8; ++x) {
        CHECK(clockwise.at(x, y) == counter.at(x, y));
        if (clockwise.at(x, y) != kBlack) ++drawn;
      }
    }
    CHECK(drawn > 10);
  }
}

TEST_CASE("software renderer: vertices far off-screen are clipped, not overflowed", "[render]") {
  SoftwareRenderer renderer;
  Scene scene(8, 8);
  const ImU32 blue = IM_COL32(0, 0, 255, 255);
  const auto a = scene.vertex(-1e30f, -1e30f, blue);
  const auto b = scene.vertex(1e30f, -1e30f, blue);
  const auto c = scene.vertex(0, 1e30f, blue);
  scene.triangle(a, b, c);
  scene.command();
  scene.render(renderer);
  CHECK(scene.at(4, 4) == pack_rgb(0, 0, 255));
}

TEST_CASE("software renderer: per-vertex colours are interpolated across a triangle", "[render]") {
  SoftwareRenderer renderer;
  Scene scene(32, 32);
  // The centroid, (10.5, 10.5), is the centre of pixel (10, 10).
  const auto a = scene.vertex(0.5f, 0.5f, IM_COL32(255, 0, 0, 255));
  const auto b = scene.vertex(30.5f, 0.5f, IM_COL32(0, 255, 0, 255));
  const auto c = scene.vertex(0.5f, 30.5f, IM_COL32(0, 0, 255, 255));
  scene.triangle(a, b, c);
  scene.command();
  scene.render(renderer);
  const auto centre = scene.at(10, 10);
  CHECK(r_of(centre) == Approx(85).margin(2));
  CHECK(g_of(centre) == Approx(85).margin(2));
  CHECK(b_of(centre) == Approx(85).margin(2));
  // Near the first vertex, (1.5, 1.5): 28/30 red. (Row 0's centres are on the top side: out.)
  const auto near_a = scene.at(1, 1);
  CHECK(r_of(near_a) == Approx(255.0 * 28.0 / 30.0).margin(2));
  CHECK(g_of(near_a) == Approx(255.0 / 30.0).margin(2));
  CHECK(scene.at(1, 0) == kBlack);
  // Halfway along a-b, a row below it: half green, a thirtieth blue, the rest red.
  const auto middle = scene.at(15, 1);
  CHECK(r_of(middle) == Approx(255.0 * 14.0 / 30.0).margin(2));
  CHECK(g_of(middle) == Approx(127.5).margin(2));
  CHECK(b_of(middle) == Approx(255.0 / 30.0).margin(2));
  // An anti-aliased fringe: alpha from 255 to 0 over black gives a ramp.
  Scene fringe(10, 2);
  const auto p = fringe.vertex(0, 0, IM_COL32(255, 255, 255, 255));
  const auto q = fringe.vertex(10, 0, IM_COL32(255, 255, 255, 0));
  const auto r = fringe.vertex(10, 2, IM_COL32(255, 255, 255, 0));
  const auto s = fringe.vertex(0, 2, IM_COL32(255, 255, 255, 255));
  fringe.triangle(p, q, r);
  fringe.triangle(p, r, s);
  fringe.command();
  fringe.render(renderer);
  CHECK(renderer.counts().triangles == 2);  // not one colour: not a rectangle
  for (int x = 0; x < 10; ++x) {
    INFO("pixel " << x);
    CHECK(r_of(fringe.at(x, 1)) == Approx(255.0 * (1.0 - (x + 0.5) / 10.0)).margin(2));
  }
}

TEST_CASE("software renderer: a real ImGui frame with text", "[render]") {
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;
  io.DisplaySize = ImVec2(200, 100);
  io.BackendFlags |= ImGuiBackendFlags_RendererHasVtxOffset;
  unsigned char* pixels = nullptr;
  int width = 0;
  int height = 0;
  io.Fonts->GetTexDataAsAlpha8(&pixels, &width, &height);
  SoftwareRenderer renderer;
  renderer.set_texture(pixels, width, height);
  io.Fonts->SetTexID(kTexture);
  ImGui::NewFrame();
  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(ImVec2(200, 100));
  ImGui::Begin("w", nullptr, ImGuiWindowFlags_NoDecoration);
  ImGui::Text("Hello");
  ImGui::Button("Button");
  ImGui::End();
  ImGui::Render();
  Scene scene(200, 100, pack_rgb(255, 0, 255));  // a colour ImGui never draws
  renderer.render(*ImGui::GetDrawData(), scene.target());
  CHECK(renderer.counts().textured_rects >= 5);  // the glyphs
  // The window's background covers the frame; the text has pixels lighter than it.
  const auto background = scene.at(199, 99);
  CHECK(background != pack_rgb(255, 0, 255));
  int text_pixels = 0;
  for (int y = 0; y < 24; ++y) {
    for (int x = 0; x < 60; ++x) {
      if (scene.at(x, y) != background) ++text_pixels;
    }
  }
  CHECK(text_pixels > 20);
  ImGui::DestroyContext();
}
