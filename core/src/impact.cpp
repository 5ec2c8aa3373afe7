#include "relais/impact.hpp"

#include <fstream>
#include <stdexcept>

namespace relais {

namespace {

std::string required_text(const nlohmann::json& object, const char* key, const std::string& where) {
  const auto found = object.find(key);
  if (found == object.end() || !found->is_string() || found->get<std::string>().empty()) {
    throw std::runtime_error(where + key + ": a non-empty text is required");
  }
  return found->get<std::string>();
}

double required_factor(const nlohmann::json& object, const char* key, const std::string& where) {
  const auto found = object.find(key);
  if (found == object.end() || !found->is_number() || found->get<double>() < 0) {
    throw std::runtime_error(where + key + ": a number of kg, 0 or more, is required");
  }
  return found->get<double>();
}

std::optional<double> optional_factor(const nlohmann::json& object, const char* key, const std::string& where) {
  if (!object.contains(key)) return std::nullopt;
  return required_factor(object, key, where);
}

}  // namespace

ImpactFactors ImpactFactors::load_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open impact factor table " + path.string());
  const auto document = nlohmann::json::parse(in, nullptr, false);
  if (document.is_discarded()) throw std::runtime_error("impact factor table " + path.string() + " is not valid JSON");
  try {
    return from_json(document);
  } catch (const std::exception& e) {
    throw std::runtime_error("impact factor table " + path.string() + ": " + e.what());
  }
}

ImpactFactors ImpactFactors::from_json(const nlohmann::json& document) {
  if (!document.is_object()) throw std::runtime_error("the table must be a JSON object");
  ImpactFactors factors;
  factors.version_ = required_text(document, "version", "");
  factors.unit_ = required_text(document, "unit", "");
  const auto source = document.find("source");
  if (source == document.end() || !source->is_object()) throw std::runtime_error("source: an object {fr, en} is required");
  factors.source_fr_ = required_text(*source, "fr", "source.");
  factors.source_en_ = required_text(*source, "en", "source.");
  const auto devices = document.find("devices");
  if (devices == document.end() || !devices->is_array()) throw std::runtime_error("devices: a list is required");
  for (std::size_t i = 0; i < devices->size(); ++i) {
    const auto& entry = (*devices)[i];
    const std::string where = "devices[" + std::to_string(i) + "].";
    if (!entry.is_object()) throw std::runtime_error(where + ": an object is required");
    const auto type = required_text(entry, "type_appareil", where);
    DeviceImpactFactor factor;
    factor.manufacture_kg_co2e = required_factor(entry, "manufacture_kg_co2e", where);
    factor.whole_life_kg_co2e = required_factor(entry, "whole_life_kg_co2e", where);
    factor.refurbished_avoided_kg_co2e_per_year = optional_factor(entry, "refurbished_avoided_kg_co2e_per_year", where);
    factor.refurbished_avoided_materials_kg_per_year =
        optional_factor(entry, "refurbished_avoided_materials_kg_per_year", where);
    if (!factors.devices_.emplace(type, factor).second) {
      throw std::runtime_error(where + "type_appareil: " + type + " is listed twice");
    }
  }
  return factors;
}

const DeviceImpactFactor* ImpactFactors::find(std::string_view type_appareil) const {
  const auto found = devices_.find(type_appareil);
  return found == devices_.end() ? nullptr : &found->second;
}

}  // namespace relais
