// The Relais desktop app. Its screens are not built yet: until they are, it tells the user
// where to go instead of pretending.
#include <cstring>
#include <iostream>

#include "relais/assets.hpp"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") == 0) {
      std::cout << "relais " << relais::relais_version() << '\n';
      return 0;
    }
  }
  std::cerr << "relais: l’application de bureau n’est pas encore disponible dans cette version ;\n"
               "utilisez relais-cli (relais-cli --help) pour enregistrer accompagnements et collectes.\n"
               "relais: the desktop app is not available in this version yet; use relais-cli.\n";
  return 1;
}
