// relais-server: the central sync endpoint. Everything is in the relais_server library.
#include "relais/server/cli.hpp"

int main(int argc, char** argv) { return relais::server::run_cli(argc, argv); }
