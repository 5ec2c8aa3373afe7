#include "x11_presenter.hpp"

#define GLFW_EXPOSE_NATIVE_X11
#include <GLFW/glfw3.h>
#include <GLFW/glfw3native.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XShm.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include <bit>
#include <cstring>
#include <stdexcept>
#include <string>

namespace relais::app {

namespace {

// Attaching a shared segment fails asynchronously (an X error, e.g. on a remote display that
// has MIT-SHM but not our memory): catch it instead of letting Xlib's default handler exit.
bool x_error_seen = false;
int on_x_error(Display* /*display*/, XErrorEvent* /*event*/) {
  x_error_seen = true;
  return 0;
}

class ErrorTrap {
 public:
  explicit ErrorTrap(Display* display) : display_(display) {
    XSync(display_, False);
    x_error_seen = false;
    previous_ = XSetErrorHandler(on_x_error);
  }
  ~ErrorTrap() {
    XSync(display_, False);
    XSetErrorHandler(previous_);
  }
  ErrorTrap(const ErrorTrap&) = delete;
  ErrorTrap& operator=(const ErrorTrap&) = delete;
  bool failed() {
    XSync(display_, False);
    return x_error_seen;
  }

 private:
  Display* display_;
  int (*previous_)(Display*, XErrorEvent*) = nullptr;
};

// One XImage over our pixels: in a shared memory segment the X server reads directly, or in
// our heap (XPutImage then sends them over the socket).
class Image {
 public:
  Image(Display* display, Visual* visual, int depth, int width, int height, bool try_shared)
      : display_(display), width_(width), height_(height) {
    if (try_shared && make_shared(visual, depth)) return;
    image_ = XCreateImage(display_, visual, static_cast<unsigned>(depth), ZPixmap, 0, nullptr,
                          static_cast<unsigned>(width), static_cast<unsigned>(height), 32, 0);
    if (image_ == nullptr) throw std::runtime_error("cannot make an X image");
    check_format();
    heap_ = std::make_unique_for_overwrite<std::uint32_t[]>(static_cast<std::size_t>(image_->bytes_per_line / 4) *
                                                            static_cast<std::size_t>(height));
    image_->data = reinterpret_cast<char*>(heap_.get());
  }

  ~Image() {
    if (image_ == nullptr) return;
    if (shared_) {
      XShmDetach(display_, &segment_);
      XSync(display_, False);  // the server lets go of the segment before we do
    }
    image_->data = nullptr;  // ours, not Xlib's to free
    XDestroyImage(image_);
    if (shared_) shmdt(segment_.shmaddr);
  }
  Image(const Image&) = delete;
  Image& operator=(const Image&) = delete;

  PixelBuffer buffer() const {
    return {reinterpret_cast<std::uint32_t*>(image_->data), width_, height_, image_->bytes_per_line / 4};
  }
  bool shared() const { return shared_; }
  int width() const { return width_; }
  int height() const { return height_; }
  XImage* get() const { return image_; }

 private:
  bool make_shared(Visual* visual, int depth) {
    image_ = XShmCreateImage(display_, visual, static_cast<unsigned>(depth), ZPixmap, nullptr, &segment_,
                             static_cast<unsigned>(width_), static_cast<unsigned>(height_));
    if (image_ == nullptr) return false;
    check_format();
    const auto size = static_cast<std::size_t>(image_->bytes_per_line) * static_cast<std::size_t>(height_);
    segment_.shmid = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
    if (segment_.shmid < 0) return give_up_shared();
    segment_.shmaddr = static_cast<char*>(shmat(segment_.shmid, nullptr, 0));
    // Marked for removal at once: the kernel frees it when both sides have detached, even if
    // we crash.
    shmctl(segment_.shmid, IPC_RMID, nullptr);
    if (segment_.shmaddr == reinterpret_cast<char*>(-1)) return give_up_shared();
    segment_.readOnly = False;
    image_->data = segment_.shmaddr;
    bool attached = false;
    {
      ErrorTrap trap(display_);
      attached = XShmAttach(display_, &segment_) != 0 && !trap.failed();
    }
    if (!attached) {
      shmdt(segment_.shmaddr);
      return give_up_shared();
    }
    shared_ = true;
    return true;
  }

  bool give_up_shared() {
    image_->data = nullptr;
    XDestroyImage(image_);
    image_ = nullptr;
    return false;
  }

  // The renderer writes 0x00RRGGBB words: the image must take 32 bits per pixel in our byte
  // order (Xlib swaps for a server of the other order; a shared segment is on this machine).
  void check_format() {
    if (image_->bits_per_pixel != 32) {
      const int bits = image_->bits_per_pixel;
      image_->data = nullptr;
      XDestroyImage(image_);
      image_ = nullptr;
      throw std::runtime_error("the display's " + std::to_string(bits) + "-bit pixels are not supported by the software renderer");
    }
    image_->byte_order = std::endian::native == std::endian::little ? LSBFirst : MSBFirst;
  }

  Display* display_;
  XImage* image_ = nullptr;
  int width_;
  int height_;
  bool shared_ = false;
  XShmSegmentInfo segment_{};
  std::unique_ptr<std::uint32_t[]> heap_;
};

struct GcDeleter {
  Display* display;
  void operator()(GC gc) const { XFreeGC(display, gc); }
};

}  // namespace

struct X11Presenter::Impl {
  Display* display = nullptr;  // GLFW's
  Window window = 0;
  Visual* visual = nullptr;
  int depth = 0;
  bool swap_red_blue = false;  // a BGR visual
  bool use_shared = false;
  std::unique_ptr<std::remove_pointer_t<GC>, GcDeleter> gc{nullptr, GcDeleter{nullptr}};
  std::unique_ptr<Image> image;
};

X11Presenter::X11Presenter(GLFWwindow* window) : impl_(std::make_unique<Impl>()) {
  impl_->display = glfwGetX11Display();
  impl_->window = glfwGetX11Window(window);
  if (impl_->display == nullptr || impl_->window == 0) throw std::runtime_error("the window is not an X11 window");
  XWindowAttributes attributes{};
  if (XGetWindowAttributes(impl_->display, impl_->window, &attributes) == 0) {
    throw std::runtime_error("cannot read the X11 window's attributes");
  }
  impl_->visual = attributes.visual;
  impl_->depth = attributes.depth;
  const Visual& visual = *attributes.visual;
  const bool rgb = visual.red_mask == 0xFF0000 && visual.green_mask == 0xFF00 && visual.blue_mask == 0xFF;
  const bool bgr = visual.red_mask == 0xFF && visual.green_mask == 0xFF00 && visual.blue_mask == 0xFF0000;
  if (visual.c_class != TrueColor || (impl_->depth != 24 && impl_->depth != 32) || !(rgb || bgr)) {
    throw std::runtime_error("the display's visual (depth " + std::to_string(impl_->depth) +
                             ") is not 24/32-bit TrueColor, which the software renderer needs");
  }
  impl_->swap_red_blue = bgr;
  impl_->use_shared = XShmQueryExtension(impl_->display) != 0;
  impl_->gc = {XCreateGC(impl_->display, impl_->window, 0, nullptr), GcDeleter{impl_->display}};
  if (!impl_->gc) throw std::runtime_error("cannot make an X11 graphics context");
}

X11Presenter::~X11Presenter() = default;

PixelBuffer X11Presenter::buffer(int width, int height) {
  auto& image = impl_->image;
  if (!image || image->width() != width || image->height() != height) {
    image.reset();  // the old segment goes before the new one is made
    image = std::make_unique<Image>(impl_->display, impl_->visual, impl_->depth, width, height, impl_->use_shared);
    // A display that refused one segment will refuse the next: stay with XPutImage.
    impl_->use_shared = image->shared();
  }
  return image->buffer();
}

void X11Presenter::present() {
  auto& image = impl_->image;
  if (!image) return;
  if (impl_->swap_red_blue) {
    // Rare (BGR visuals): swap in place; the next frame is drawn from scratch anyway.
    const auto pixels = image->buffer();
    for (int y = 0; y < pixels.height; ++y) {
      std::uint32_t* row = pixels.row(y);
      for (int x = 0; x < pixels.width; ++x) {
        const std::uint32_t p = row[x];
        row[x] = (p & 0xFF00u) | ((p >> 16) & 0xFFu) | ((p & 0xFFu) << 16);
      }
    }
  }
  const auto w = static_cast<unsigned>(image->width());
  const auto h = static_cast<unsigned>(image->height());
  if (image->shared()) {
    XShmPutImage(impl_->display, impl_->window, impl_->gc.get(), image->get(), 0, 0, 0, 0, w, h, False);
    // The server reads the segment when it gets to the request: wait, so that the next frame
    // is not drawn under it.
    XSync(impl_->display, False);
  } else {
    XPutImage(impl_->display, impl_->window, impl_->gc.get(), image->get(), 0, 0, 0, 0, w, h);
    XFlush(impl_->display);  // Xlib has copied the pixels into its requests
  }
}

bool X11Presenter::shared_memory() const { return impl_->image ? impl_->image->shared() : impl_->use_shared; }

}  // namespace relais::app
