#pragma once
// Puts the software renderer's pixels in a GLFW window (created with GLFW_NO_API) through
// Xlib: XShmPutImage when the X server shares memory with us (MIT-SHM, a local display), else
// XPutImage. The pixel buffer is the XImage's own memory, so a frame is never copied on our
// side. X11 headers stay in the .cpp (their macros, None or Status, clash with other code).
#include <memory>

#include "software_renderer.hpp"

struct GLFWwindow;

namespace relais::app {

class X11Presenter {
 public:
  // Throws std::runtime_error when the window is not on X11 or its visual is not 24/32-bit
  // TrueColor with 8 bits per channel.
  explicit X11Presenter(GLFWwindow* window);
  ~X11Presenter();
  X11Presenter(const X11Presenter&) = delete;
  X11Presenter& operator=(const X11Presenter&) = delete;

  // The buffer for the next frame, `width` x `height` (made again when the size changed).
  PixelBuffer buffer(int width, int height);
  // Shows the buffer in the window; returns once the server is done reading it.
  void present();
  bool shared_memory() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace relais::app
