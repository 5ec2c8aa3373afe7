#include "software_renderer.hpp"

#include <imgui.h>

#include <algorithm>
#include <cmath>

namespace relais::app {

namespace {

// Positions are snapped to 1/256 of a pixel, so that coverage is decided on integers: the
// fill rule is exact, and an edge shared by two triangles gives one of them each pixel.
//
// The fill rule is OpenGL's top-left rule as ImGui's OpenGL backends meet it: their projection
// turns ImGui's y-down coordinates into GL's y-up window, so a pixel centre exactly on an edge
// belongs to the shape when the edge is a left one or, in ImGui's coordinates, a bottom one.
// Same pixels as the OpenGL path (ImGui's scaled glyphs do end on half pixels).
constexpr int kSubpixelBits = 8;
constexpr std::int64_t kOne = std::int64_t{1} << kSubpixelBits;
constexpr std::int64_t kHalf = kOne / 2;

// Clamped to a million pixels either way (ImGui can place far off-screen vertices), which keeps
// every product of the edge functions well inside 64 bits.
std::int64_t snap(float value) {
  constexpr double kLimit = 1 << 20;
  const double v = std::isnan(value) ? 0.0 : std::clamp(static_cast<double>(value), -kLimit, kLimit);
  return std::llround(v * static_cast<double>(kOne));
}

// Divisions rounding towards minus and plus infinity (b > 0).
std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return -floor_div(-a, b); }

// The first pixel whose centre (p + 0.5) is at or after the snapped coordinate `s`, and the
// first strictly after it.
int first_pixel_at_or_after(std::int64_t s) { return static_cast<int>(ceil_div(s - kHalf, kOne)); }
int first_pixel_after(std::int64_t s) { return static_cast<int>(floor_div(s - kHalf, kOne) + 1); }

// t / 255 rounded, for t in [0, 255 * 255].
constexpr unsigned div255(unsigned t) {
  t += 128;
  return (t + (t >> 8)) >> 8;
}

unsigned red(ImU32 c) { return c & 0xFFu; }
unsigned green(ImU32 c) { return (c >> 8) & 0xFFu; }
unsigned blue(ImU32 c) { return (c >> 16) & 0xFFu; }
unsigned alpha(ImU32 c) { return c >> 24; }

// "Source over": what ImGui's OpenGL backends ask with glBlendFunc(SRC_ALPHA, ONE_MINUS_SRC_ALPHA).
std::uint32_t blend(std::uint32_t dst, unsigned r, unsigned g, unsigned b, unsigned a) {
  const unsigned keep = 255 - a;
  return pack_rgb(div255(r * a + ((dst >> 16) & 0xFFu) * keep), div255(g * a + ((dst >> 8) & 0xFFu) * keep),
                  div255(b * a + (dst & 0xFFu) * keep));
}

void blend_span(std::uint32_t* out, int count, unsigned r, unsigned g, unsigned b, unsigned a) {
  if (a == 0) return;
  if (a == 255) {
    std::fill_n(out, count, pack_rgb(r, g, b));
    return;
  }
  // The colour's share is the same for every pixel of the span.
  const unsigned keep = 255 - a;
  const unsigned ra = r * a;
  const unsigned ga = g * a;
  const unsigned ba = b * a;
  for (int i = 0; i < count; ++i) {
    const std::uint32_t dst = out[i];
    out[i] = pack_rgb(div255(ra + ((dst >> 16) & 0xFFu) * keep), div255(ga + ((dst >> 8) & 0xFFu) * keep),
                      div255(ba + (dst & 0xFFu) * keep));
  }
}

unsigned to_byte(float value) {
  if (!(value > 0.0f)) return 0;  // also NaN
  if (value >= 255.0f) return 255;
  return static_cast<unsigned>(value + 0.5f);
}

// Texel index and the weight (0..255) of the next texel for a texture coordinate, as OpenGL's
// GL_LINEAR does: texel centres are at (i + 0.5) / size. Clamped at the edges (the atlas has
// padding around every glyph, so clamp or repeat look the same).
void texel(float coordinate, int size, std::int32_t& index, std::uint8_t& weight) {
  const float t = coordinate * static_cast<float>(size) - 0.5f;
  const float base = std::floor(t);
  int i = static_cast<int>(base);
  int w = static_cast<int>((t - base) * 256.0f + 0.5f);
  if (w >= 256) {
    ++i;
    w = 0;
  }
  if (i < 0) {
    i = 0;
    w = 0;
  } else if (i >= size - 1) {
    i = size - 1;
    w = 0;
  }
  index = i;
  weight = static_cast<std::uint8_t>(w);
}

}  // namespace

struct SoftwareRenderer::Vertex {
  float x = 0;
  float y = 0;
  float u = 0;
  float v = 0;
  ImU32 col = 0;
};

void SoftwareRenderer::set_texture(const std::uint8_t* alpha, int width, int height) {
  texture_.assign(alpha, alpha + static_cast<std::size_t>(width) * static_cast<std::size_t>(height));
  texture_width_ = width;
  texture_height_ = height;
}

void SoftwareRenderer::clear(const PixelBuffer& target, std::uint32_t colour) {
  for (int y = 0; y < target.height; ++y) std::fill_n(target.row(y), target.width, colour);
}

unsigned SoftwareRenderer::sample(float u, float v) const {
  if (texture_.empty()) return 255;
  std::int32_t x = 0;
  std::int32_t y = 0;
  std::uint8_t wx = 0;
  std::uint8_t wy = 0;
  texel(u, texture_width_, x, wx);
  texel(v, texture_height_, y, wy);
  const auto* row0 = texture_.data() + static_cast<std::ptrdiff_t>(y) * texture_width_;
  const auto* row1 = wy != 0 ? row0 + texture_width_ : row0;
  const int x1 = wx != 0 ? x + 1 : x;
  const unsigned top = row0[x] * (256u - wx) + row0[x1] * wx;
  const unsigned bottom = row1[x] * (256u - wx) + row1[x1] * wx;
  return (top * (256u - wy) + bottom * wy + 32768u) >> 16;
}

void SoftwareRenderer::render(const ImDrawData& data, const PixelBuffer& target) {
  counts_ = {};
  for (int n = 0; n < data.CmdListsCount; ++n) {
    draw_list(*data.CmdLists[n], data.DisplayPos.x, data.DisplayPos.y, data.FramebufferScale.x,
              data.FramebufferScale.y, target);
  }
}

void SoftwareRenderer::draw_list(const ImDrawList& list, float off_x, float off_y, float scale_x, float scale_y,
                                 const PixelBuffer& target) {
  for (const ImDrawCmd& cmd : list.CmdBuffer) {
    if (cmd.UserCallback != nullptr) {
      if (cmd.UserCallback != ImDrawCallback_ResetRenderState) cmd.UserCallback(&list, &cmd);
      continue;
    }
    // The clip rectangle in whole pixels, as the OpenGL backends' glScissor truncates it.
    const float min_x = (cmd.ClipRect.x - off_x) * scale_x;
    const float min_y = (cmd.ClipRect.y - off_y) * scale_y;
    const float max_x = (cmd.ClipRect.z - off_x) * scale_x;
    const float max_y = (cmd.ClipRect.w - off_y) * scale_y;
    if (max_x <= min_x || max_y <= min_y) continue;
    Clip clip{};
    clip.x0 = static_cast<int>(min_x);
    clip.x1 = clip.x0 + static_cast<int>(max_x - min_x);
    clip.y1 = target.height - static_cast<int>(static_cast<float>(target.height) - max_y);
    clip.y0 = clip.y1 - static_cast<int>(max_y - min_y);
    clip.x0 = std::max(clip.x0, 0);
    clip.y0 = std::max(clip.y0, 0);
    clip.x1 = std::min(clip.x1, target.width);
    clip.y1 = std::min(clip.y1, target.height);
    if (clip.x1 <= clip.x0 || clip.y1 <= clip.y0) continue;

    const bool textured = cmd.TextureId != nullptr && !texture_.empty();
    const ImDrawIdx* idx = list.IdxBuffer.Data + cmd.IdxOffset;
    const ImDrawVert* vtx = list.VtxBuffer.Data + cmd.VtxOffset;
    const auto vertex = [&](ImDrawIdx i) {
      const ImDrawVert& in = vtx[i];
      Vertex out;
      out.x = (in.pos.x - off_x) * scale_x;
      out.y = (in.pos.y - off_y) * scale_y;
      out.u = in.uv.x;
      out.v = in.uv.y;
      out.col = in.col;
      return out;
    };
    const unsigned count = cmd.ElemCount;
    unsigned i = 0;
    while (i + 2 < count) {
      // ImGui's rectangles (PrimRect, PrimRectUV: frames, backgrounds, glyphs) are two
      // triangles a-b-c, a-c-d over four vertices.
      if (i + 5 < count && idx[i + 3] == idx[i] && idx[i + 4] == idx[i + 2]) {
        const ImDrawVert& a = vtx[idx[i]];
        const ImDrawVert& b = vtx[idx[i + 1]];
        const ImDrawVert& c = vtx[idx[i + 2]];
        const ImDrawVert& d = vtx[idx[i + 5]];
        const bool one_colour = a.col == b.col && a.col == c.col && a.col == d.col;
        // Sides along the axes, texture coordinates following them (u with x, v with y).
        const auto side = [](const ImDrawVert& p, const ImDrawVert& q) {
          if (p.pos.y == q.pos.y && p.pos.x != q.pos.x) return p.uv.y == q.uv.y;
          if (p.pos.x == q.pos.x && p.pos.y != q.pos.y) return p.uv.x == q.uv.x;
          return false;
        };
        if (one_colour && side(a, b) && side(b, c) && side(c, d) && side(d, a)) {
          const bool one_uv = a.uv.x == c.uv.x && a.uv.y == c.uv.y && a.uv.x == b.uv.x && a.uv.y == b.uv.y &&
                              a.uv.x == d.uv.x && a.uv.y == d.uv.y;
          Vertex va = vertex(idx[i]);
          const Vertex vc = vertex(idx[i + 2]);
          if (textured && one_uv) {
            // The white pixel (or any single texel): fold it into the colour once.
            const unsigned t = sample(va.u, va.v);
            va.col = (va.col & 0x00FFFFFFu) | (static_cast<ImU32>(div255(alpha(va.col) * t)) << 24);
          }
          fill_rect(va, vc, textured && !one_uv, clip, target);
          i += 6;
          continue;
        }
      }
      fill_triangle(vertex(idx[i]), vertex(idx[i + 1]), vertex(idx[i + 2]), textured, clip, target);
      i += 3;
    }
  }
}

void SoftwareRenderer::fill_rect(const Vertex& a, const Vertex& c, bool textured, const Clip& clip,
                                 const PixelBuffer& target) {
  const std::int64_t ax = snap(a.x);
  const std::int64_t cx = snap(c.x);
  const std::int64_t ay = snap(a.y);
  const std::int64_t cy = snap(c.y);
  // Pixel centres in [left, right) x (top, bottom]: the fill rule of the two triangles.
  const int x0 = std::max(first_pixel_at_or_after(std::min(ax, cx)), clip.x0);
  const int x1 = std::min(first_pixel_at_or_after(std::max(ax, cx)), clip.x1);
  const int y0 = std::max(first_pixel_after(std::min(ay, cy)), clip.y0);
  const int y1 = std::min(first_pixel_after(std::max(ay, cy)), clip.y1);
  if (x1 <= x0 || y1 <= y0) return;
  const unsigned r = red(a.col);
  const unsigned g = green(a.col);
  const unsigned b = blue(a.col);
  const unsigned alpha_of_colour = alpha(a.col);
  if (!textured) {
    ++counts_.solid_rects;
    for (int y = y0; y < y1; ++y) blend_span(target.row(y) + x0, x1 - x0, r, g, b, alpha_of_colour);
    return;
  }
  ++counts_.textured_rects;
  if (alpha_of_colour == 0) return;
  // u depends on x only and v on y only: the texels and weights of each column once.
  const float du = (c.u - a.u) / (c.x - a.x);
  const float dv = (c.v - a.v) / (c.y - a.y);
  const auto columns = static_cast<std::size_t>(x1 - x0);
  column_texel_.resize(columns);
  column_weight_.resize(columns);
  for (int x = x0; x < x1; ++x) {
    const float u = a.u + (static_cast<float>(x) + 0.5f - a.x) * du;
    texel(u, texture_width_, column_texel_[static_cast<std::size_t>(x - x0)],
          column_weight_[static_cast<std::size_t>(x - x0)]);
  }
  for (int y = y0; y < y1; ++y) {
    std::int32_t ty = 0;
    std::uint8_t wy = 0;
    texel(a.v + (static_cast<float>(y) + 0.5f - a.y) * dv, texture_height_, ty, wy);
    const std::uint8_t* row0 = texture_.data() + static_cast<std::ptrdiff_t>(ty) * texture_width_;
    const std::uint8_t* row1 = wy != 0 ? row0 + texture_width_ : row0;
    std::uint32_t* out = target.row(y);
    for (int x = x0; x < x1; ++x) {
      const auto k = static_cast<std::size_t>(x - x0);
      const std::int32_t tx = column_texel_[k];
      const unsigned wx = column_weight_[k];
      const std::int32_t tx1 = wx != 0 ? tx + 1 : tx;
      const unsigned top = row0[tx] * (256u - wx) + row0[tx1] * wx;
      unsigned t = 0;
      if (wy == 0) {
        t = (top + 128u) >> 8;
      } else {
        const unsigned bottom = row1[tx] * (256u - wx) + row1[tx1] * wx;
        t = (top * (256u - wy) + bottom * wy + 32768u) >> 16;
      }
      if (t == 0) continue;
      const unsigned a_out = alpha_of_colour == 255 ? t : div255(alpha_of_colour * t);
      out[x] = a_out == 255 ? pack_rgb(r, g, b) : blend(out[x], r, g, b, a_out);
    }
  }
}

void SoftwareRenderer::fill_triangle(const Vertex& v0_in, const Vertex& v1_in, const Vertex& v2_in, bool textured,
                                     const Clip& clip, const PixelBuffer& target) {
  const Vertex* v[3] = {&v0_in, &v1_in, &v2_in};
  std::int64_t X[3];
  std::int64_t Y[3];
  for (int k = 0; k < 3; ++k) {
    X[k] = snap(v[k]->x);
    Y[k] = snap(v[k]->y);
  }
  std::int64_t area = (X[1] - X[0]) * (Y[2] - Y[0]) - (Y[1] - Y[0]) * (X[2] - X[0]);
  if (area == 0) return;
  if (area < 0) {  // one winding for the edge functions below
    std::swap(v[1], v[2]);
    std::swap(X[1], X[2]);
    std::swap(Y[1], Y[2]);
    area = -area;
  }
  const int px0 = std::max(first_pixel_at_or_after(std::min({X[0], X[1], X[2]})), clip.x0);
  const int px1 = std::min(first_pixel_at_or_after(std::max({X[0], X[1], X[2]}) + 1), clip.x1);
  const int py0 = std::max(first_pixel_at_or_after(std::min({Y[0], Y[1], Y[2]})), clip.y0);
  const int py1 = std::min(first_pixel_at_or_after(std::max({Y[0], Y[1], Y[2]}) + 1), clip.y1);
  if (px1 <= px0 || py1 <= py0) return;
  ++counts_.triangles;

  // Edge k runs from vertex k+1 to k+2 (opposite vertex k); its function is >= 0 inside and
  // equals `area` at vertex k. With this winding (clockwise on screen, y pointing down) a left
  // edge goes up and a bottom edge goes left: a pixel centre on an edge belongs to the triangle
  // only for those (see the fill rule above).
  std::int64_t step_x[3];
  std::int64_t step_y[3];
  std::int64_t at_origin[3];  // at the centre of pixel (px0, py0)
  const std::int64_t cx0 = static_cast<std::int64_t>(px0) * kOne + kHalf;
  const std::int64_t cy0 = static_cast<std::int64_t>(py0) * kOne + kHalf;
  for (int k = 0; k < 3; ++k) {
    const int a = (k + 1) % 3;
    const int b = (k + 2) % 3;
    const std::int64_t dx = X[b] - X[a];
    const std::int64_t dy = Y[b] - Y[a];
    const bool owns_its_pixels = dy < 0 || (dy == 0 && dx < 0);
    step_x[k] = -dy * kOne;
    step_y[k] = dx * kOne;
    at_origin[k] = dx * (cy0 - Y[a]) - dy * (cx0 - X[a]) - (owns_its_pixels ? 0 : 1);
  }

  const ImU32 c0 = v[0]->col;
  const bool one_colour = c0 == v[1]->col && c0 == v[2]->col;
  const bool one_uv = !textured || (v[0]->u == v[1]->u && v[0]->u == v[2]->u && v[0]->v == v[1]->v &&
                                    v[0]->v == v[2]->v);
  const unsigned constant_texture = textured && one_uv ? sample(v[0]->u, v[0]->v) : 255;
  const auto inv_area = static_cast<float>(1.0 / static_cast<double>(area));
  // Attributes as a0 + (a1 - a0) * l1 + (a2 - a0) * l2, l1 and l2 the edge functions / area.
  const auto channel = [](ImU32 c, int shift) { return static_cast<float>((c >> shift) & 0xFFu); };
  float base[4];
  float d1[4];
  float d2[4];
  for (int ch = 0; ch < 4; ++ch) {
    base[ch] = channel(v[0]->col, ch * 8);
    d1[ch] = channel(v[1]->col, ch * 8) - base[ch];
    d2[ch] = channel(v[2]->col, ch * 8) - base[ch];
  }
  const float du1 = v[1]->u - v[0]->u;
  const float du2 = v[2]->u - v[0]->u;
  const float dv1 = v[1]->v - v[0]->v;
  const float dv2 = v[2]->v - v[0]->v;

  for (int py = py0; py < py1; ++py) {
    const std::int64_t rows = py - py0;
    std::int64_t w[3];
    for (int k = 0; k < 3; ++k) w[k] = at_origin[k] + rows * step_y[k];
    // The span where all three edge functions are >= 0, solved per edge: no per-pixel test
    // over the bounding box (a rounded frame is a fan of long thin triangles).
    std::int64_t first = 0;
    std::int64_t last = px1 - px0 - 1;
    for (int k = 0; k < 3 && first <= last; ++k) {
      if (step_x[k] == 0) {
        if (w[k] < 0) first = last + 1;
      } else if (step_x[k] > 0) {
        first = std::max(first, ceil_div(-w[k], step_x[k]));
      } else {
        last = std::min(last, floor_div(w[k], -step_x[k]));
      }
    }
    if (first > last) continue;
    std::uint32_t* out = target.row(py) + px0;
    if (one_colour && one_uv) {
      const unsigned a = constant_texture == 255 ? alpha(c0) : div255(alpha(c0) * constant_texture);
      blend_span(out + first, static_cast<int>(last - first + 1), red(c0), green(c0), blue(c0), a);
      continue;
    }
    for (std::int64_t k = first; k <= last; ++k) {
      // Barycentric weights from the exact edge functions (the bias of at most 1/65536 of a
      // pixel's area is nothing).
      const float l1 = static_cast<float>(w[1] + k * step_x[1]) * inv_area;
      const float l2 = static_cast<float>(w[2] + k * step_x[2]) * inv_area;
      unsigned r = red(c0);
      unsigned g = green(c0);
      unsigned b = blue(c0);
      float a = base[3];
      if (!one_colour) {
        r = to_byte(base[0] + d1[0] * l1 + d2[0] * l2);
        g = to_byte(base[1] + d1[1] * l1 + d2[1] * l2);
        b = to_byte(base[2] + d1[2] * l1 + d2[2] * l2);
        a = base[3] + d1[3] * l1 + d2[3] * l2;
      }
      unsigned t = constant_texture;
      if (!one_uv) t = sample(v[0]->u + du1 * l1 + du2 * l2, v[0]->v + dv1 * l1 + dv2 * l2);
      const unsigned alpha_out = to_byte(a * static_cast<float>(t) * (1.0f / 255.0f));
      if (alpha_out == 0) continue;
      std::uint32_t& pixel = out[k];
      pixel = alpha_out == 255 ? pack_rgb(r, g, b) : blend(pixel, r, g, b, alpha_out);
    }
  }
}

}  // namespace relais::app
