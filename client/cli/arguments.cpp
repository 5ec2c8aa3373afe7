#include "arguments.hpp"

namespace relais::cli {

Arguments::Arguments(const std::vector<std::string>& words, const std::set<std::string>& flags) {
  for (std::size_t i = 0; i < words.size(); ++i) {
    const auto& word = words[i];
    if (word.size() > 2 && word.rfind("--", 0) == 0) {
      auto name = word.substr(2);
      std::string value;
      if (const auto equals = name.find('='); equals != std::string::npos) {
        value = name.substr(equals + 1);
        name = name.substr(0, equals);
      } else if (flags.count(name) != 0) {
        flags_set_.insert(name);
        continue;
      } else {
        if (i + 1 >= words.size()) {
          missing_value_ = name;
          continue;
        }
        value = words[++i];
      }
      if (options_.count(name) != 0) throw UsageError("cli.usage.option_twice", {{"option", "--" + name}});
      options_[name] = value;
    } else {
      positional_.push_back(word);
    }
  }
}

std::optional<std::string> Arguments::option(const std::string& name) {
  used_.insert(name);
  if (missing_value_ == name) throw UsageError("cli.usage.option_needs_value", {{"option", "--" + name}});
  const auto it = options_.find(name);
  if (it == options_.end()) return std::nullopt;
  return it->second;
}

bool Arguments::flag(const std::string& name) {
  used_.insert(name);
  return flags_set_.count(name) != 0;
}

void Arguments::reject_unused() const {
  // A command that knew this option asked for it, and option() reported the missing value.
  if (missing_value_) throw UsageError("cli.usage.unknown_option", {{"option", "--" + *missing_value_}});
  for (const auto& [name, value] : options_) {
    if (used_.count(name) == 0) throw UsageError("cli.usage.unknown_option", {{"option", "--" + name}});
  }
  for (const auto& name : flags_set_) {
    if (used_.count(name) == 0) throw UsageError("cli.usage.unknown_option", {{"option", "--" + name}});
  }
}

}  // namespace relais::cli
