#pragma once
// One row per help session, in the column order of La Coop's activity export, with French
// labels instead of codes. Shared by the CSV export now and the XLSX export later.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "relais/records.hpp"

namespace relais {

class Vocabulary;

struct ExportedSession {
  Session session;
  std::int64_t created_unix_ms = 0;
  std::int64_t updated_unix_ms = 0;
  std::optional<Place> place;  // the place of activity, when type_lieu is lieu_activite
  std::string mediateur;       // the advisor's name, for team exports
};

std::vector<std::string> activity_export_header(bool with_mediateur);
std::vector<std::string> activity_export_row(const ExportedSession& row, const Vocabulary& vocabulary,
                                             bool with_mediateur);
// The columns of activity_export_row after its first three (Date, Enregistré le, Dernière
// modification le), appended to `cells`: for the exports, which write those three as dates.
void append_activity_export_columns(const ExportedSession& row, const Vocabulary& vocabulary, bool with_mediateur,
                                    std::vector<std::string>& cells);

}  // namespace relais
