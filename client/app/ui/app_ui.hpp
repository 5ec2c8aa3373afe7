#pragma once
// The one window of the desktop app: a navigation column on the left (with the sync indicator
// visible from every screen) and the current screen on the right. Runs on the UI thread only;
// everything slow (network, big queries) happens on worker threads that post results back.
#include <cstdint>
#include <memory>
#include <string>

#include "../model/app_state.hpp"
#include "platform.hpp"

namespace relais {
class HistoryReader;
}

namespace relais::app {

class StatisticsView;
class ExportsView;

class AppUi {
 public:
  AppUi(AppState& app, Platform& platform);
  ~AppUi();

  // Builds this frame's interface (between ImGui::NewFrame and ImGui::Render).
  void frame();
  // Screens: session, workshop, equipment, history, sync, settings, statistics, exports, setup.
  void set_view(const std::string& view);
  const std::string& view() const { return view_; }
  static bool is_view(const std::string& view);
  // True while something moves on screen (sync progress): the loop keeps drawing a few times a second.
  bool animating() const;
  // Something changed outside the UI (sync): views re-read what they show.
  void on_data_changed();
  // The sync counts, or on the history the first page, are still being read (screenshots wait).
  bool loading() const;

 private:
  void shortcuts();
  void navigation(float width);
  void sync_indicator();
  void view_session(SessionForm& form, FormMessages& messages);
  void view_equipment();
  void view_history();
  void view_sync();
  void view_settings();
  void view_setup();
  void enrollment_form();
  void save_bar(const std::string& label, const FormMessages& messages, bool& save);
  void place_fields(SessionForm& form, const FormMessages& messages);
  void workshop_counts(SessionForm& form, const FormMessages& messages);
  void delete_confirmation();

  AppState& app_;
  Platform& platform_;
  std::string view_ = "session";
  bool save_requested_ = false;
  bool multiline_active_ = false;
  bool custom_duration_individual_ = false;
  bool custom_duration_workshop_ = false;
  // Settings and set-up screens.
  std::string server_url_;
  std::string enroll_code_;
  std::string new_place_nom_, new_place_commune_, new_place_code_postal_;
  std::string place_message_;
  // History.
  std::unique_ptr<HistoryReader> history_;
  std::string history_search_;
  std::string history_from_, history_to_;
  std::string history_type_, history_theme_, history_lieu_, history_state_;
  std::string pending_delete_id_;
  std::string pending_delete_label_;
  std::string delete_error_;
  std::uint64_t seen_generation_ = 0;
  // Statistiques (created when first shown: its worker thread only runs for those who look).
  std::unique_ptr<StatisticsView> statistics_;
  std::unique_ptr<ExportsView> exports_;  // created when first shown
  // Equipment.
  std::uint64_t devices_generation_ = ~std::uint64_t{0};
  std::string devices_lot_id_;
  std::vector<LotDevice> devices_;
};

}  // namespace relais::app
