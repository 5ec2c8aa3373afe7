#pragma once
#include "relais/sqlite.hpp"

namespace relais {

// Brings the schema from its current PRAGMA user_version to the latest, one numbered
// migration per transaction. Returns the version found before migrating.
int migrate(sqlite::Database& db);
int schema_version_of(const sqlite::Database& db);

}  // namespace relais
