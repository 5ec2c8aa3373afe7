// Statistiques: the figures a coordinator expects (vocabulary.md, "Statistics that coordinators
// expect"), for a period and filters, computed off the UI thread by StatisticsWorker.
#include "view_statistics.hpp"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "relais/text.hpp"
#include "widgets.hpp"

namespace relais::app {

namespace {

float scale() { return ImGui::GetFontSize() / 16.0f; }

ImU32 colour(float r, float g, float b, float a = 1.0f) { return ImGui::GetColorU32(ImVec4(r, g, b, a)); }
ImU32 text_colour() { return ImGui::GetColorU32(ImGuiCol_Text); }
ImU32 muted() { return ImGui::GetColorU32(ui::muted_colour()); }
ImU32 bar_colour() { return colour(0.20f, 0.45f, 0.78f); }
ImU32 track_colour() { return colour(0.88f, 0.90f, 0.94f); }

// Before an item `width` wide in a row of controls: on the same line when it still fits.
void flow(bool& first, float width) {
  if (first) {
    first = false;
    return;
  }
  ImGui::SameLine();
  if (ImGui::GetCursorPosX() + width > ImGui::GetWindowContentRegionMax().x) ImGui::NewLine();
}

float button_width(const std::string& label) {
  return ImGui::CalcTextSize(label.c_str()).x + ImGui::GetStyle().FramePadding.x * 2;
}

struct Figure {
  std::string name;   // probe name
  std::string raw;    // the figure as the probe reports it
  std::string value;  // as shown
  std::string label;
  std::string note;   // a smaller line under the label, "" for none
};

// Cards of figures: 6, 3 or 2 a row, whichever fits at least 165 px (scaled) each.
void figure_grid(const std::vector<Figure>& figures, ImFont* number_font) {
  const float spacing = 8 * scale();
  const float padding = 8 * scale();
  const float avail = ImGui::GetContentRegionAvail().x;
  int columns = 6;
  while (columns > 2 && (avail - spacing * static_cast<float>(columns - 1)) / static_cast<float>(columns) < 165 * scale()) {
    columns = columns == 6 ? 3 : 2;
  }
  const float width = (avail - spacing * static_cast<float>(columns - 1)) / static_cast<float>(columns);
  const float inner = width - 2 * padding;
  auto* draw = ImGui::GetWindowDrawList();
  const float small = ImGui::GetFontSize() * 0.85f;
  for (std::size_t first = 0; first < figures.size(); first += static_cast<std::size_t>(columns)) {
    const auto last = std::min(figures.size(), first + static_cast<std::size_t>(columns));
    float height = 0;
    for (auto i = first; i < last; ++i) {
      const auto& figure = figures[i];
      float h = number_font->FontSize + 4 * scale() + ImGui::CalcTextSize(figure.label.c_str(), nullptr, false, inner).y;
      if (!figure.note.empty()) {
        h += 2 * scale() + ImGui::GetFont()->CalcTextSizeA(small, FLT_MAX, inner, figure.note.c_str()).y;
      }
      height = std::max(height, h + 2 * padding);
    }
    for (auto i = first; i < last; ++i) {
      const auto& figure = figures[i];
      const ImVec2 at = ImGui::GetCursorScreenPos();
      draw->AddRectFilled(at, ImVec2(at.x + width, at.y + height), colour(1, 1, 1), 6 * scale());
      draw->AddRect(at, ImVec2(at.x + width, at.y + height), colour(0.82f, 0.84f, 0.88f), 6 * scale());
      ImVec2 text_at(at.x + padding, at.y + padding);
      draw->AddText(number_font, number_font->FontSize, text_at, colour(0.10f, 0.16f, 0.28f), figure.value.c_str());
      text_at.y += number_font->FontSize + 4 * scale();
      draw->AddText(ImGui::GetFont(), ImGui::GetFontSize(), text_at, text_colour(), figure.label.c_str(), nullptr, inner);
      if (!figure.note.empty()) {
        text_at.y += ImGui::CalcTextSize(figure.label.c_str(), nullptr, false, inner).y + 2 * scale();
        draw->AddText(ImGui::GetFont(), small, text_at, muted(), figure.note.c_str(), nullptr, inner);
      }
      ImGui::Dummy(ImVec2(width, height));
      ui::probe(figure.name, figure.raw);
      if (i + 1 < last) ImGui::SameLine(0, spacing);
    }
    ImGui::Dummy(ImVec2(0, spacing - ImGui::GetStyle().ItemSpacing.y));
  }
}

struct BarRow {
  std::string label;
  std::int64_t value = 0;
};

// A breakdown: its title, then one line per row: label (wrapped in its column), a bar as long
// as the row's share of the largest, and "count · percent" at the right.
void bar_list(const std::string& name, const std::string& title, const std::vector<BarRow>& rows, std::int64_t whole,
              const std::string& more, ImFont* title_font, Lang lang) {
  ImGui::PushFont(title_font);
  ImGui::TextUnformatted(title.c_str());
  ImGui::PopFont();
  const float width = ImGui::GetContentRegionAvail().x;
  const float gap = 8 * scale();
  std::int64_t largest = 1;
  float value_width = 0;
  std::vector<std::string> values;
  for (const auto& row : rows) {
    largest = std::max(largest, row.value);
    values.push_back(format_count(row.value, lang) + " · " + format_percent(row.value, whole, lang));
    value_width = std::max(value_width, ImGui::CalcTextSize(values.back().c_str()).x);
  }
  const float label_width = std::min(width * 0.42f, 250 * scale());
  const float bar_left = label_width + gap;
  const float bar_space = std::max(20 * scale(), width - bar_left - gap - value_width);
  auto* draw = ImGui::GetWindowDrawList();
  const float line = ImGui::GetTextLineHeight();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    const ImVec2 at = ImGui::GetCursorScreenPos();
    const float label_height = ImGui::CalcTextSize(row.label.c_str(), nullptr, false, label_width).y;
    const float height = std::max(label_height, line) + 3 * scale();
    draw->AddText(ImGui::GetFont(), ImGui::GetFontSize(), at, text_colour(), row.label.c_str(), nullptr, label_width);
    const float bar_top = at.y + (line - line * 0.7f) / 2;
    const ImVec2 track_min(at.x + bar_left, bar_top);
    draw->AddRectFilled(track_min, ImVec2(track_min.x + bar_space, bar_top + line * 0.7f), track_colour(), 2 * scale());
    if (row.value > 0) {
      const float length = std::max(2 * scale(), bar_space * static_cast<float>(row.value) / static_cast<float>(largest));
      draw->AddRectFilled(track_min, ImVec2(track_min.x + length, bar_top + line * 0.7f), bar_colour(), 2 * scale());
    }
    const float value_x = at.x + width - ImGui::CalcTextSize(values[i].c_str()).x;
    draw->AddText(ImVec2(value_x, at.y), row.value > 0 ? text_colour() : muted(), values[i].c_str());
    ImGui::Dummy(ImVec2(width, height));
    ui::probe(name + ":" + std::to_string(i), std::to_string(row.value));
  }
  if (!more.empty()) ImGui::TextColored(ui::muted_colour(), "%s", more.c_str());
  ImGui::Spacing();
  ImGui::Spacing();
}

}  // namespace

StatisticsView::StatisticsView(AppState& app, Platform& platform) : app_(app), platform_(platform) {
  StatisticsWorker::Options options;
  options.store_path = app_.store_path();
  options.base_vocabulary = &app_.assets().vocabulary;
  options.impact_factors_path = app_.assets().directory / "impact_factors.json";
  options.on_ready = [] { Platform::wake(); };
  worker_ = std::make_unique<StatisticsWorker>(std::move(options));
}

StatisticsView::~StatisticsView() = default;

bool StatisticsView::loading() const {
  if (!problems_.empty()) return false;  // nothing will come until the period is fixed
  if (!requested_) return true;
  const auto snapshot = worker_->snapshot();
  return snapshot.busy || !snapshot.result;
}

bool StatisticsView::show_advisors(const stats::Indicators& indicators) const {
  if (role_ == "coordinateur" || role_ == "admin") return true;
  const auto* breakdown = indicators.breakdown(stats::kMediateur);
  if (breakdown == nullptr) return false;
  return std::count_if(breakdown->rows.begin(), breakdown->rows.end(),
                       [](const stats::Count& row) { return row.activities > 0; }) > 1;
}

void StatisticsView::draw() {
  // The role comes with enrollment; read again when the store changed.
  if (role_generation_ != app_.data_generation()) {
    role_generation_ = app_.data_generation();
    const auto user = nlohmann::json::parse(app_.store().meta(sync_meta::user).value_or("{}"), nullptr, false);
    role_ = user.is_object() && user.contains("role") && user["role"].is_string() ? user["role"].get<std::string>() : "";
  }
  // Ask the worker when the controls, the day or the store changed; the UI never waits.
  const auto today = app_.today();
  const auto filter = make_filter(query_, today, app_.vocabulary(), problems_);
  if (filter && (!requested_ || !(query_ == requested_query_) || requested_generation_ != app_.data_generation() ||
                 requested_today_ != today)) {
    requested_number_ = worker_->request(*filter);
    requested_ = true;
    requested_query_ = query_;
    requested_generation_ = app_.data_generation();
    requested_today_ = today;
  }
  const auto snapshot = worker_->snapshot();
  const StatisticsResult* result = snapshot.result.get();

  ImGui::PushFont(platform_.fonts().title);
  ImGui::TextUnformatted(app_.text("app.title.statistics").c_str());
  ImGui::PopFont();
  if (snapshot.busy) {
    ImGui::SameLine();
    ImGui::AlignTextToFramePadding();
    ImGui::TextColored(ui::muted_colour(), "%s", app_.text("app.stats.computing").c_str());
    ui::probe("stats:computing");
  }

  period_controls();
  filter_controls(result);
  ImGui::Separator();

  ImGui::BeginChild("##stats-body", ImVec2(0, 0), false);
  if (result == nullptr) {
    ImGui::TextColored(ui::muted_colour(), "%s", app_.text("app.stats.computing").c_str());
  } else if (!result->indicators) {
    ImGui::PushStyleColor(ImGuiCol_Text, ui::error_colour());
    ImGui::TextWrapped("%s", app_.text("app.stats.error.failed", {{"detail", result->error}}).c_str());
    ImGui::PopStyleColor();
  } else {
    if (!result->error.empty()) {  // figures without CO2e: the factor table could not be read
      ImGui::PushStyleColor(ImGuiCol_Text, ui::warn_colour());
      ImGui::TextWrapped("%s", app_.text("app.stats.error.factors", {{"detail", result->error}}).c_str());
      ImGui::PopStyleColor();
    }
    if (!problems_.empty()) {  // the controls say something unusable: these are the last good figures
      ImGui::TextColored(ui::warn_colour(), "%s", app_.text("app.stats.stale").c_str());
    }
    headline(*result);
    chart(*result);
    breakdowns(*result);
  }
  ImGui::EndChild();
}

bool period_controls(AppState& app, StatisticsQuery& query, const std::vector<QueryProblem>& problems,
                     const std::string& name) {
  bool changed = false;
  bool first = true;
  for (const auto preset : kPeriodPresets) {
    const std::string code(preset);
    const auto label = app.text("app.stats.preset." + code);
    flow(first, button_width(label));
    if (ui::toggle_button(label, name + "preset" + code, query.preset == code)) {
      if (code == "custom" && query.custom_from.empty() && query.custom_to.empty()) {
        // Start from the period shown, for the user to adjust.
        if (const auto period = preset_period(query.preset, app.today())) {
          query.custom_from = format_date_french(period->from);
          query.custom_to = format_date_french(period->to);
        }
      }
      query.preset = code;
      changed = true;
    }
    ui::probe(name + ":preset:" + code);
  }
  if (query.preset == "custom") {
    ImGui::AlignTextToFramePadding();
    ImGui::TextUnformatted(app.text("app.stats.from").c_str());
    ImGui::SameLine();
    changed |= ui::text_field(name + ":from", query.custom_from, app.text("app.hint.date"), 120 * scale());
    ImGui::SameLine();
    ImGui::TextUnformatted(app.text("app.stats.to").c_str());
    ImGui::SameLine();
    changed |= ui::text_field(name + ":to", query.custom_to, app.text("app.hint.date"), 120 * scale());
  }
  bool period_problem = false;
  for (const auto& problem : problems) {
    if (problem.field == "departement") continue;  // shown under the filters
    period_problem = true;
    ImGui::TextColored(ui::error_colour(), "%s", app.text(problem.key, {{"value", problem.value}}).c_str());
  }
  if (!period_problem && query.preset != "custom") {
    if (const auto period = preset_period(query.preset, app.today())) {
      ImGui::SameLine();
      ImGui::AlignTextToFramePadding();
      const auto shown = app.text("app.stats.period_shown", {{"from", format_date_french(period->from)},
                                                              {"to", format_date_french(period->to)}});
      if (ImGui::GetCursorPosX() + ImGui::CalcTextSize(shown.c_str()).x > ImGui::GetWindowContentRegionMax().x) {
        ImGui::NewLine();
      }
      ImGui::TextColored(ui::muted_colour(), "%s", shown.c_str());
    }
  }
  return changed;
}

void StatisticsView::period_controls() {
  if (app::period_controls(app_, query_, problems_, "stats")) granularity_chosen_ = false;
}

void StatisticsView::filter_controls(const StatisticsResult* result) {
  bool first = true;
  const float combo = 200 * scale();
  if (result != nullptr && !result->advisors.empty()) {
    std::vector<std::pair<std::string, std::string>> advisors{{"", app_.text("app.stats.all_advisors")}};
    for (const auto& advisor : result->advisors) advisors.emplace_back(advisor.id, advisor.name);
    flow(first, combo);
    ui::choice_combo("stats:mediateur", combo, query_.mediateur_id, advisors);
  }
  if (!app_.places().empty()) {
    std::vector<std::pair<std::string, std::string>> places{{"", app_.text("app.stats.all_places")}};
    for (const auto& place : app_.places()) places.emplace_back(place.id, place.label);
    flow(first, combo);
    ui::choice_combo("stats:lieu", combo, query_.lieu_id, places);
  }
  flow(first, 170 * scale());
  ui::choice_combo("stats:type", 170 * scale(), query_.type,
                   {{"", app_.text("app.stats.all_types")},
                    {"individuel", app_.label("type", "individuel")},
                    {"collectif", app_.label("type", "collectif")}});
  std::vector<std::pair<std::string, std::string>> themes{{"", app_.text("app.stats.all_themes")}};
  for (const auto& code : app_.vocabulary().set("thematiques").codes) themes.emplace_back(code.code, code.label(app_.lang()));
  flow(first, combo);
  ui::choice_combo("stats:theme", combo, query_.thematique, themes);
  flow(first, 220 * scale());
  ui::text_field("stats:commune", query_.commune, app_.text("app.stats.hint.commune"), 220 * scale());
  flow(first, 130 * scale());
  ui::text_field("stats:departement", query_.departement, app_.text("app.stats.hint.departement"), 130 * scale());
  const bool filtered = !query_.mediateur_id.empty() || !query_.lieu_id.empty() || !query_.type.empty() ||
                        !query_.thematique.empty() || !query_.commune.empty() || !query_.departement.empty();
  if (filtered) {
    const auto label = app_.text("app.stats.clear_filters");
    flow(first, button_width(label));
    if (ui::secondary_button(label, "stats:clear")) {
      query_.mediateur_id.clear();
      query_.lieu_id.clear();
      query_.type.clear();
      query_.thematique.clear();
      query_.commune.clear();
      query_.departement.clear();
    }
  }
  for (const auto& problem : problems_) {
    if (problem.field != "departement") continue;
    ImGui::TextColored(ui::error_colour(), "%s", app_.text(problem.key, {{"value", problem.value}}).c_str());
  }
}

void StatisticsView::headline(const StatisticsResult& result) {
  const auto& indicators = *result.indicators;
  const auto& totals = indicators.totals;
  const auto lang = app_.lang();
  const auto count = [&](const char* name, std::int64_t value, const char* label) {
    return Figure{name, std::to_string(value), format_count(value, lang), app_.text(label), {}};
  };
  ui::section_title(app_.text("app.stats.activity"));
  if (totals.accompagnements == 0) {
    ImGui::TextColored(ui::muted_colour(), "%s", app_.text("app.stats.empty").c_str());
  }
  figure_grid({count("stat:accompagnements", totals.accompagnements, "app.stats.figure.accompagnements"),
               count("stat:beneficiaires", totals.beneficiaires, "app.stats.figure.beneficiaires"),
               count("stat:individual", totals.individual_sessions, "app.stats.figure.individual"),
               count("stat:workshops", totals.workshops, "app.stats.figure.workshops"),
               count("stat:participants", totals.workshop_participants, "app.stats.figure.participants"),
               Figure{"stat:minutes", std::to_string(totals.minutes), format_duration(totals.minutes),
                      app_.text("app.stats.figure.time"), {}}},
              platform_.fonts().title);

  const auto& equipment = indicators.equipment;
  const auto kg = [&](double value) { return format_decimal(value, 1, lang) + " kg"; };
  const auto raw_kg = [](double value) { return format_decimal(value, 1, Lang::en); };
  ui::section_title(app_.text("app.stats.equipment"));
  const auto version = !equipment.factors_version.empty() ? equipment.factors_version : result.factors_version;
  figure_grid({count("stat:devices_collected", equipment.devices_collected, "app.stats.figure.devices_collected"),
               Figure{"stat:kg_collected", raw_kg(equipment.weight_collected_kg), kg(equipment.weight_collected_kg),
                      app_.text("app.stats.figure.kg_collected"), {}},
               Figure{"stat:kg_diverted", raw_kg(equipment.weight_diverted_kg), kg(equipment.weight_diverted_kg),
                      app_.text("app.stats.figure.kg_diverted"), {}},
               count("stat:handed_over", equipment.devices_handed_over, "app.stats.figure.handed_over"),
               count("stat:erasures", equipment.erasures, "app.stats.figure.erasures"),
               Figure{"stat:co2e", raw_kg(equipment.co2e_avoided_kg),
                      format_decimal(equipment.co2e_avoided_kg, 0, lang) + " kg CO2e", app_.text("app.stats.figure.co2e"),
                      app_.text("app.stats.factors_version", {{"version", version}})}},
              platform_.fonts().title);
  // Where the CO2e factors come from, in full, right under the figure.
  std::int64_t without_factor = 0;
  for (const auto& row : equipment.impact) {
    if (!row.factor_kg_co2e) without_factor += row.devices_reused;
  }
  const auto& source = lang == Lang::fr ? result.factors_source_fr : result.factors_source_en;
  if (!source.empty()) ui::help_text(app_.text("app.stats.factors_source", {{"version", version}, {"source", source}}));
  if (without_factor > 0) {
    ui::help_text(app_.text("app.stats.no_factor", {{"count", format_count(without_factor, lang)}}));
  }
}

void StatisticsView::chart(const StatisticsResult& result) {
  const auto& indicators = *result.indicators;
  if (!result.filter.from || !result.filter.to) return;
  if (!granularity_chosen_) granularity_ = default_granularity(*result.filter.from, *result.filter.to);
  ImGui::Spacing();
  ImGui::PushFont(platform_.fonts().bold);
  ImGui::AlignTextToFramePadding();
  ImGui::TextUnformatted(app_.text("app.stats.over_time").c_str());
  ImGui::PopFont();
  for (const auto& [value, key] : {std::pair{Granularity::day, "day"}, std::pair{Granularity::week, "week"},
                                   std::pair{Granularity::month, "month"}}) {
    ImGui::SameLine();
    if (ui::toggle_button(app_.text(std::string("app.stats.granularity.") + key), std::string("granularity") + key,
                          granularity_ == value)) {
      granularity_ = value;
      granularity_chosen_ = true;
    }
    ui::probe(std::string("stats:granularity:") + key);
  }
  ImGui::Separator();

  const auto series = time_series(indicators, granularity_, *result.filter.from, *result.filter.to, app_.lang());
  std::int64_t largest = 0;
  for (const auto& point : series) largest = std::max(largest, point.people);
  // A round top for the scale: 1, 2, 5, 10, 20, 50...
  std::int64_t top = 1;
  while (top < largest) {
    if (top * 2 >= largest) {
      top *= 2;
    } else if (top * 5 >= largest) {
      top *= 5;
    } else {
      top *= 10;
    }
  }
  const auto lang = app_.lang();
  const float width = ImGui::GetContentRegionAvail().x;
  const float height = 170 * scale();
  const float line = ImGui::GetTextLineHeight();
  const auto top_label = format_count(top, lang);
  const float axis_width = ImGui::CalcTextSize(top_label.c_str()).x + 6 * scale();
  const ImVec2 at = ImGui::GetCursorScreenPos();
  const ImVec2 plot_min(at.x + axis_width, at.y + line / 2);
  const ImVec2 plot_max(at.x + width - 4 * scale(), at.y + height - line - 4 * scale());
  auto* draw = ImGui::GetWindowDrawList();
  const float plot_height = plot_max.y - plot_min.y;
  // Grid: the top and the middle of the scale, and the base line.
  for (const auto& [fraction, text] : {std::pair{1.0f, top_label}, std::pair{0.5f, format_count(top / 2, lang)},
                                       std::pair{0.0f, std::string("0")}}) {
    if (fraction == 0.5f && top < 2) continue;
    const float y = plot_max.y - plot_height * fraction;
    draw->AddLine(ImVec2(plot_min.x, y), ImVec2(plot_max.x, y),
                  fraction == 0.0f ? colour(0.55f, 0.57f, 0.62f) : colour(0.86f, 0.87f, 0.90f));
    const float text_width = ImGui::CalcTextSize(text.c_str()).x;
    draw->AddText(ImVec2(plot_min.x - 4 * scale() - text_width, y - line / 2), muted(), text.c_str());
  }
  const auto n = static_cast<float>(std::max<std::size_t>(1, series.size()));
  const float slot = (plot_max.x - plot_min.x) / n;
  const float bar = std::max(1.0f, std::min(slot * 0.72f, 48 * scale()));
  int hovered = -1;
  ImGui::Dummy(ImVec2(width, height));
  ui::probe("stats:chart", std::to_string(series.size()));
  if (ImGui::IsItemHovered() && slot > 0) {
    const float mouse = ImGui::GetIO().MousePos.x - plot_min.x;
    if (mouse >= 0 && mouse < plot_max.x - plot_min.x) hovered = static_cast<int>(mouse / slot);
  }
  // Labels under the bars: one every `step` bars, so that they never overlap.
  float label_width = 0;
  for (const auto& point : series) label_width = std::max(label_width, ImGui::CalcTextSize(point.label.c_str()).x);
  const auto step = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil((label_width + 10 * scale()) / slot)));
  for (std::size_t i = 0; i < series.size(); ++i) {
    const auto& point = series[i];
    const float centre = plot_min.x + slot * (static_cast<float>(i) + 0.5f);
    if (point.people > 0) {
      const float h = plot_height * static_cast<float>(point.people) / static_cast<float>(top);
      draw->AddRectFilled(ImVec2(centre - bar / 2, plot_max.y - h), ImVec2(centre + bar / 2, plot_max.y),
                          static_cast<int>(i) == hovered ? colour(0.10f, 0.30f, 0.60f) : bar_colour());
    }
    if (i % step == 0) {
      const float text_width = ImGui::CalcTextSize(point.label.c_str()).x;
      const float x = std::clamp(centre - text_width / 2, at.x, at.x + width - text_width);
      draw->AddText(ImVec2(x, plot_max.y + 3 * scale()), muted(), point.label.c_str());
    }
  }
  if (hovered >= 0 && static_cast<std::size_t>(hovered) < series.size()) {
    const auto& point = series[static_cast<std::size_t>(hovered)];
    std::string period = point.label;
    if (const auto date = parse_date(point.period)) period = format_date_french(*date);
    ImGui::SetTooltip("%s", app_.text("app.stats.chart_tooltip", {{"period", period},
                                                                  {"people", format_count(point.people, lang)},
                                                                  {"activities", format_count(point.activities, lang)}})
                                .c_str());
  }
  ImGui::Spacing();
}

void StatisticsView::breakdowns(const StatisticsResult& result) {
  const auto& indicators = *result.indicators;
  const auto lang = app_.lang();
  stats::Labels labels(app_.vocabulary(), lang);
  for (const auto& place : app_.places()) labels.set_name(stats::kLieu, place.id, place.label);
  for (const auto& advisor : result.advisors) labels.set_name(stats::kMediateur, advisor.id, advisor.name);

  struct Block {
    std::string dimension;
    std::string title;
    std::vector<BarRow> rows;
    std::string more;
  };
  std::vector<Block> blocks;
  constexpr std::size_t kMaxFound = 12;  // places, advisors, communes: the first ones, most people first
  for (const auto dimension : stats::kBreakdownDimensions) {
    if (dimension == stats::kMediateur && !show_advisors(indicators)) continue;
    const auto* breakdown = indicators.breakdown(dimension);
    if (breakdown == nullptr) continue;
    Block block{std::string(dimension), labels.dimension_title(dimension), {}, {}};
    const bool found = dimension == stats::kLieu || dimension == stats::kMediateur || dimension == stats::kCommune;
    for (const auto& row : breakdown->rows) {
      if (found && block.rows.size() >= kMaxFound) continue;
      auto label = labels.code_label(dimension, row.code);
      if (label.empty()) {
        label = app_.text(dimension == stats::kMediateur ? "app.stats.unassigned" : "app.stats.no_place");
      }
      block.rows.push_back({std::move(label), row.people});
    }
    if (found && breakdown->rows.size() > kMaxFound) {
      block.more = app_.text("app.stats.more", {{"count", std::to_string(breakdown->rows.size() - kMaxFound)}});
    }
    if (found && block.rows.empty()) block.more = app_.text("app.none");
    blocks.push_back(std::move(block));
  }

  ImGui::Spacing();
  ui::section_title(app_.text("app.stats.breakdowns"));
  const auto whole = indicators.totals.accompagnements;
  const bool two_columns = ImGui::GetContentRegionAvail().x >= 820 * scale();
  const auto draw_block = [&](const Block& block) {
    bar_list("stats:" + block.dimension, block.title, block.rows, whole, block.more, platform_.fonts().bold, lang);
  };
  if (!two_columns) {
    for (const auto& block : blocks) draw_block(block);
    return;
  }
  // Two columns, each block going to the shorter one.
  std::vector<const Block*> columns[2];
  std::size_t heights[2] = {0, 0};
  for (const auto& block : blocks) {
    const int column = heights[1] < heights[0] ? 1 : 0;
    columns[column].push_back(&block);
    heights[column] += block.rows.size() + 3;
  }
  if (ImGui::BeginTable("##breakdowns", 2, ImGuiTableFlags_SizingStretchSame | ImGuiTableFlags_PadOuterX)) {
    ImGui::TableNextRow();
    for (const auto& column : columns) {
      ImGui::TableNextColumn();
      for (const auto* block : column) draw_block(*block);
    }
    ImGui::EndTable();
  }
}

}  // namespace relais::app
