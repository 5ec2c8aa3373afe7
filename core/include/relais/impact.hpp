#pragma once
// The versioned table of impact factors (assets/impact_factors.json): kg CO2e for making one new
// device of each type, from ADEME / Arcep, with its source. Every figure computed from it is shown
// with `version` and `source` (vocabulary.md, "Impact factors").
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "relais/lang.hpp"

namespace relais {

struct DeviceImpactFactor {
  double manufacture_kg_co2e = 0;  // making and distributing one new device
  double whole_life_kg_co2e = 0;
  std::optional<double> refurbished_avoided_kg_co2e_per_year;
  std::optional<double> refurbished_avoided_materials_kg_per_year;
};

class ImpactFactors {
 public:
  // Throws std::runtime_error naming the file and the field when the table is unusable.
  static ImpactFactors load_file(const std::filesystem::path& path);
  static ImpactFactors from_json(const nlohmann::json& document);

  const std::string& version() const { return version_; }
  const std::string& source(Lang lang) const { return lang == Lang::fr ? source_fr_ : source_en_; }
  const std::string& unit() const { return unit_; }
  // The factor of a device type (a `type_appareil` code), or nullptr when the table has none
  // (printers, accessories...): such devices are counted but add no CO2e.
  const DeviceImpactFactor* find(std::string_view type_appareil) const;
  const std::map<std::string, DeviceImpactFactor, std::less<>>& devices() const { return devices_; }

 private:
  std::string version_;
  std::string source_fr_;
  std::string source_en_;
  std::string unit_;
  std::map<std::string, DeviceImpactFactor, std::less<>> devices_;
};

}  // namespace relais
