#pragma once
// Where the assets (vocabulary, translations, fonts) are, and loading them once at start.
#include <filesystem>
#include <string>

#include "relais/i18n.hpp"
#include "relais/vocabulary.hpp"

namespace relais {

// The assets directory: $RELAIS_ASSETS_DIR when set, else share/relais/assets next to the
// running binary's bin/ folder (the same layout in the build tree, an install prefix and the
// relocatable archive). Throws std::runtime_error naming the places it looked.
std::filesystem::path find_assets_directory();

struct Assets {
  std::filesystem::path directory;
  Vocabulary vocabulary;
  Translator translator;

  static Assets load(const std::filesystem::path& directory);
};

std::string relais_version();

// Where Relais keeps a user's data: $XDG_DATA_HOME/relais, else ~/.local/share/relais.
// Throws std::runtime_error when neither variable is set.
std::filesystem::path user_data_directory();

}  // namespace relais
