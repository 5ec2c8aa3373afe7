// relais-server: the central endpoint. Not implemented in this version: it answers --version
// and --help and refuses anything else with a clear message and a non-zero exit code.
#include <cstring>
#include <iostream>

#include "relais/assets.hpp"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") == 0) {
      std::cout << "relais-server " << relais::relais_version() << '\n';
      return 0;
    }
    if (std::strcmp(argv[i], "--help") == 0) {
      std::cout << "relais-server " << relais::relais_version()
                << "\nThe central sync endpoint is not implemented in this version.\n";
      return 0;
    }
  }
  std::cerr << "relais-server: not implemented in this version (see --help)\n";
  return 1;
}
