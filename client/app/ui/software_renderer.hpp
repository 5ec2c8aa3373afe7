#pragma once
// Draws Dear ImGui's draw data into a pixel buffer on the CPU, with no OpenGL: on a laptop
// without a GPU driver, Mesa's llvmpipe costs 60 MB of resident memory (libLLVM and
// swrast_dri) to draw the same flat triangles. Pure: no X11, no GLFW (platform.cpp puts the
// pixels in the window), so it is unit-tested on its own.
//
// What it does, as ImGui's OpenGL backends do: per-vertex colour and texture coordinates
// interpolated across each triangle, the texture (the font atlas, alpha only) sampled
// bilinearly and multiplied into the colour's alpha, "source over" blending, the command's clip
// rectangle, and OpenGL's fill rule (pixel centres, top-left in GL's y-up window: an edge
// shared by two triangles is drawn once). Axis-aligned quads of one colour (frames, backgrounds) and glyph quads, most
// of a frame, are filled as rectangles.
#include <cstdint>
#include <vector>

struct ImDrawData;
struct ImDrawList;

namespace relais::app {

// 0x00RRGGBB in native 32-bit words: what a 24- or 32-bit TrueColor X11 visual with the
// usual masks (red 0xff0000, green 0xff00, blue 0xff) shows as is.
struct PixelBuffer {
  std::uint32_t* pixels = nullptr;
  int width = 0;
  int height = 0;
  int stride = 0;  // pixels from one row to the next (>= width)

  std::uint32_t* row(int y) const { return pixels + static_cast<std::ptrdiff_t>(y) * stride; }
};

constexpr std::uint32_t pack_rgb(unsigned r, unsigned g, unsigned b) {
  return (static_cast<std::uint32_t>(r) << 16) | (static_cast<std::uint32_t>(g) << 8) | static_cast<std::uint32_t>(b);
}

class SoftwareRenderer {
 public:
  // The one texture, ImFontAtlas::GetTexDataAsAlpha8's pixels (copied): ImGui only needs the
  // alpha of its font atlas, a quarter of the RGBA copy's memory. Any non-null TextureId in the
  // draw data samples it.
  void set_texture(const std::uint8_t* alpha, int width, int height);
  bool has_texture() const { return !texture_.empty(); }

  static void clear(const PixelBuffer& target, std::uint32_t colour);
  // Draws every command list of `data` over what `target` holds (clear it first).
  void render(const ImDrawData& data, const PixelBuffer& target);

  // What the last render() drew, by path (tests and the benchmark).
  struct Counts {
    long solid_rects = 0;
    long textured_rects = 0;
    long triangles = 0;
  };
  const Counts& counts() const { return counts_; }

 private:
  struct Clip {
    int x0, y0, x1, y1;  // pixels [x0, x1) x [y0, y1)
  };
  struct Vertex;
  void draw_list(const ImDrawList& list, float off_x, float off_y, float scale_x, float scale_y,
                 const PixelBuffer& target);
  void fill_rect(const Vertex& a, const Vertex& c, bool textured, const Clip& clip, const PixelBuffer& target);
  void fill_triangle(const Vertex& v0, const Vertex& v1, const Vertex& v2, bool textured, const Clip& clip,
                     const PixelBuffer& target);
  // Bilinear sample of the texture at normalised (u, v), 0..255.
  unsigned sample(float u, float v) const;

  std::vector<std::uint8_t> texture_;
  int texture_width_ = 0;
  int texture_height_ = 0;
  std::vector<std::int32_t> column_texel_;  // scratch for textured rectangles
  std::vector<std::uint8_t> column_weight_;
  Counts counts_;
};

}  // namespace relais::app
