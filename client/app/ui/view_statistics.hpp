#pragma once
// Statistiques: the coordinator's figures over a period, with filters: headline totals
// (activity and equipment, CO2e with its factor table), a bar chart over time and one bar list
// per breakdown, drawn with ImGui's draw lists. The figures are computed by a StatisticsWorker
// (its own thread and read-only connection); this screen only asks and draws what came back.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../model/app_state.hpp"
#include "../model/statistics_worker.hpp"
#include "platform.hpp"

namespace relais::app {

// The period buttons (presets, then "Autre période" with its two dates) and the period's
// problems; widgets are named "<name>:preset:<code>", "<name>:from", "<name>:to". True when
// the user changed something.
bool period_controls(AppState& app, StatisticsQuery& query, const std::vector<QueryProblem>& problems,
                     const std::string& name);

class StatisticsView {
 public:
  StatisticsView(AppState& app, Platform& platform);
  ~StatisticsView();
  StatisticsView(const StatisticsView&) = delete;
  StatisticsView& operator=(const StatisticsView&) = delete;

  void draw();
  // The figures for the current controls are not there yet (screenshots wait for them).
  bool loading() const;

 private:
  void period_controls();
  void filter_controls(const StatisticsResult* result);
  void headline(const StatisticsResult& result);
  void chart(const StatisticsResult& result);
  void breakdowns(const StatisticsResult& result);
  // Whether the per-advisor rows are shown: for a coordinator or an administrator, or when the
  // store holds records of more than one advisor.
  bool show_advisors(const stats::Indicators& indicators) const;

  AppState& app_;
  Platform& platform_;
  std::unique_ptr<StatisticsWorker> worker_;
  StatisticsQuery query_;
  std::vector<QueryProblem> problems_;
  bool granularity_chosen_ = false;
  Granularity granularity_ = Granularity::day;
  // What was last asked of the worker: asked again when the controls, the day or the store change.
  bool requested_ = false;
  StatisticsQuery requested_query_;
  std::uint64_t requested_generation_ = 0;
  Date requested_today_;
  std::uint64_t requested_number_ = 0;
  // The enrolled account's role (mediateur, coordinateur, admin), "" when not enrolled.
  std::string role_;
  std::uint64_t role_generation_ = ~std::uint64_t{0};
};

}  // namespace relais::app
