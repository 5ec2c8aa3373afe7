#pragma once
#include "relais/sqlite.hpp"

namespace relais {

// Brings the schema from its current PRAGMA user_version to the latest, one numbered
// migration per transaction. Returns the version found before migrating.
int migrate(sqlite::Database& db);
int schema_version_of(const sqlite::Database& db);
// Throws std::runtime_error (naming the file, asking to update Relais) when the store was
// written by a newer Relais. Only reads, so a refused store is left exactly as it was.
void require_known_schema(const sqlite::Database& db);

}  // namespace relais
