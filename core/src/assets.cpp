#include "relais/assets.hpp"

#include <cstdlib>
#include <stdexcept>
#include <system_error>

namespace relais {

namespace {

std::filesystem::path executable_directory() {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return {};
  return self.parent_path();
}

bool looks_like_assets(const std::filesystem::path& directory) {
  std::error_code error;
  return std::filesystem::is_regular_file(directory / "vocabulary.json", error);
}

}  // namespace

std::filesystem::path find_assets_directory() {
  if (const char* from_env = std::getenv("RELAIS_ASSETS_DIR"); from_env != nullptr && *from_env != '\0') {
    if (!looks_like_assets(from_env)) {
      throw std::runtime_error(std::string("RELAIS_ASSETS_DIR=") + from_env + " has no vocabulary.json");
    }
    return from_env;
  }
  const auto bin = executable_directory();
  const auto candidate = bin.parent_path() / RELAIS_ASSETS_SUBDIR;
  if (looks_like_assets(candidate)) return candidate;
  throw std::runtime_error("assets not found: looked in " + candidate.string() +
                           " (set RELAIS_ASSETS_DIR to the folder holding vocabulary.json)");
}

Assets Assets::load(const std::filesystem::path& directory) {
  return Assets{directory, Vocabulary::load_file(directory / "vocabulary.json"),
                Translator::load_directory(directory / "i18n")};
}

std::string relais_version() { return RELAIS_VERSION; }

std::filesystem::path user_data_directory() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::filesystem::path(xdg) / "relais";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".local" / "share" / "relais";
  }
  throw std::runtime_error("neither XDG_DATA_HOME nor HOME is set: give the store with --db PATH");
}

}  // namespace relais
