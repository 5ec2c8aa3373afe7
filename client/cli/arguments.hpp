#pragma once
// A small argument reader: positional words and --options, with the option values checked
// by the command that uses them.
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace relais::cli {

// Bad command-line usage: reported in one line, exit code 2. `key` is a translation key
// ("cli.usage.*") and `args` fill its placeholders.
class UsageError : public std::runtime_error {
 public:
  UsageError(std::string key, std::vector<std::pair<std::string, std::string>> args = {})
      : std::runtime_error(key), key_(std::move(key)), args_(std::move(args)) {}
  const std::string& key() const { return key_; }
  const std::vector<std::pair<std::string, std::string>>& args() const { return args_; }

 private:
  std::string key_;
  std::vector<std::pair<std::string, std::string>> args_;
};

class Arguments {
 public:
  // `flags` are options without a value (--include-deleted); every other --option takes one.
  Arguments(const std::vector<std::string>& words, const std::set<std::string>& flags);

  const std::vector<std::string>& positional() const { return positional_; }
  std::optional<std::string> option(const std::string& name);
  bool flag(const std::string& name);
  // Throws UsageError naming any option no command asked for.
  void reject_unused() const;

 private:
  std::vector<std::string> positional_;
  std::map<std::string, std::string> options_;
  std::set<std::string> flags_set_;
  // An option last on the line, without its value: reported when a command asks for it, and
  // as unknown otherwise (so that a mistyped trailing option is not said to "need a value").
  std::optional<std::string> missing_value_;
  std::set<std::string> used_;
};

}  // namespace relais::cli
