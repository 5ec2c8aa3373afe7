#pragma once
// A validation problem: which field, why, and the values a message needs.
// Problems are data; they are turned into French or English text only when shown.
#include <string>
#include <utility>
#include <vector>

#include "relais/lang.hpp"

namespace relais {

class Translator;

struct Problem {
  std::string field;   // path of the field: "date", "beneficiaire.genre", "participants.genre.feminin"
  std::string reason;  // translation key suffix: "required", "unknown_code", ...
  std::vector<std::pair<std::string, std::string>> args;

  bool operator==(const Problem&) const = default;
};

using Problems = std::vector<Problem>;

// "field: reason in words", e.g. "lieu_id : obligatoire quand type_lieu vaut « lieu_activite »".
std::string describe(const Problem& problem, const Translator& translator, Lang lang);

// Adds `prefix` in front of each problem's field ("[2]" + "date" -> "[2].date").
void prefix_fields(Problems& problems, const std::string& prefix);

bool has_problem_for(const Problems& problems, const std::string& field);

}  // namespace relais
