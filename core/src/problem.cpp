#include "relais/problem.hpp"

#include "relais/i18n.hpp"

namespace relais {

std::string describe(const Problem& problem, const Translator& translator, Lang lang) {
  const auto reason = translator.text(lang, "problem." + problem.reason, problem.args);
  if (problem.field.empty()) return reason;
  // French typography puts a space before the colon.
  return problem.field + (lang == Lang::fr ? " : " : ": ") + reason;
}

void prefix_fields(Problems& problems, const std::string& prefix) {
  for (auto& problem : problems) {
    if (problem.field.empty()) {
      problem.field = prefix;
    } else if (problem.field.front() == '[') {
      problem.field = prefix + problem.field;
    } else {
      problem.field = prefix + "." + problem.field;
    }
  }
}

bool has_problem_for(const Problems& problems, const std::string& field) {
  for (const auto& problem : problems) {
    if (problem.field == field || problem.field.rfind(field + ".", 0) == 0 || problem.field.rfind(field + "[", 0) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace relais
