#pragma once
// The relais-server command line: serving, and the administrator's commands.
// Exit codes: 0 success, 2 bad arguments or an unknown id (one line on stderr), 1 any other
// failure (unusable store, address in use...).

namespace relais::server {

int run_cli(int argc, char** argv);

}  // namespace relais::server
