#pragma once
// Everything the desktop app knows, with no UI code: the assets, the store (the UI thread's
// own connection: single-record writes take well under a millisecond), the settings, the
// forms and their crash-safe drafts, and the sync state fed by the background sync thread.
// The ImGui screens read and change this; the tests drive it directly too.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "forms.hpp"
#include "relais/assets.hpp"
#include "relais/local_store.hpp"
#include "relais/sync_engine.hpp"

namespace relais::app {

// Keys of the store's meta table that hold the app's settings.
namespace setting {
inline constexpr const char* lang = "app_lang";                // fr | en
inline constexpr const char* text_scale = "app_text_scale";    // 0.8 .. 1.6
inline constexpr const char* lieu_id = "app_lieu_id";          // usual place of activity
inline constexpr const char* advisor_nom = "app_advisor_nom";
inline constexpr const char* advisor_prenom = "app_advisor_prenom";
inline constexpr const char* setup_done = "app_setup_done";    // "server" | "offline"
}  // namespace setting

struct PlaceChoice {
  std::string id;
  std::string label;  // "Médiathèque Jean-Macé — Villeurbanne"
};

// What the sync screen and the indicator show. Built on the UI thread from the store's settings,
// the last report the sync worker posted and the last counts the store worker posted.
struct SyncStatus {
  bool enrolled = false;
  std::string server_url;
  std::string user_label;  // "Samia Benali (médiateur)"
  // pending, quarantined and conflicts are read on StoreWorker's thread (counting the pending
  // records reads the whole journal: up to 150 ms with 100,000 records); until its first answer
  // they are not known, and the screens say "…".
  bool counts_known = false;
  std::int64_t pending = 0;
  std::string last_success;  // UTC timestamp, empty when never
  std::string last_error;    // in plain words, empty when the last sync went through
  bool online = false;       // the last attempt reached the server
  bool running = false;
  std::size_t progress_done = 0;
  std::string progress_phase;
  std::vector<nlohmann::json> quarantined;
  std::vector<nlohmann::json> conflicts;
  // This computer's clock is wrong (from the server's time): what to tell, empty otherwise.
  std::string clock_warning;
};

// A device of the lot open on the equipment screen, with what the list shows.
struct LotDevice {
  std::string id;
  std::string summary;  // "Ordinateur portable · Lenovo ThinkPad T470 · PF-0XK2L9"
  std::string devenir;
  std::vector<std::string> events;  // "12/11/2026 Effacé (purge, réussi)"
};

// The store work the UI thread must never wait on, on one worker thread with its own connection:
//   - the sync status's counts (records to send, refused records, the conflict log), at once
//     when asked (start, after a sync), and after the UI's writes once it is quiet;
//   - the WAL checkpoints of the UI's writes. The UI connection has wal_autocheckpoint off (an
//     automatic checkpoint runs on the committing thread: 3 in 200 saves on a 100,000-record
//     store, each a few ms more on the Save button). After the UI writes, the worker runs a
//     PASSIVE checkpoint (it never blocks a writer, nor waits for one) once the UI has been quiet
//     for kQuiet, or at once after kMaxWrites writes without a quiet moment. Durability is the
//     same: a commit is on disk (synchronous=FULL) when it returns, in the WAL until checkpointed.
class StoreWorker {
 public:
  struct Counts {
    std::int64_t pending = 0;
    std::vector<nlohmann::json> quarantined;
    std::vector<nlohmann::json> conflicts;
  };
  static constexpr std::chrono::milliseconds kQuiet{1000};
  static constexpr int kMaxWrites = 100;

  // Starts the thread; the store is opened there. `on_counts` is called on the worker thread.
  StoreWorker(std::filesystem::path store_path, const Vocabulary& vocabulary, std::function<void(Counts)> on_counts);
  ~StoreWorker();  // joins; a checkpoint in progress finishes first
  StoreWorker(const StoreWorker&) = delete;
  StoreWorker& operator=(const StoreWorker&) = delete;

  // Reads the counts again (requests made while one read runs make one more read).
  void request_counts();
  // The UI connection committed a write: checkpoint it, and count again, once the UI is quiet.
  void wrote();
  // Tests and benchmarks: checkpoints run so far (each one PASSIVE, on the worker).
  int checkpoints() const;

 private:
  void run();

  std::filesystem::path store_path_;
  const Vocabulary& vocabulary_;
  std::function<void(Counts)> on_counts_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool counts_wanted_ = false;
  bool counts_after_quiet_ = false;  // the UI wrote: count again once it is quiet
  int writes_ = 0;  // since the last checkpoint
  std::chrono::steady_clock::time_point last_write_;
  int checkpoints_ = 0;
  std::thread thread_;  // last: started once everything above exists
};

// Writes the forms' records on a thread of its own with its own store connection: a Save never
// waits on the store on the UI thread (another process may hold it for seconds: a CLI import, a
// sync page). One write at a time; its outcome is taken by the UI thread with take().
class SaveWorker {
 public:
  struct Job {
    RecordKind kind = RecordKind::session;
    nlohmann::json record;   // the form's record, checked on the UI thread already
    std::string editing_id;  // the record it replaces, empty for a new one
    Date today;
  };
  struct Outcome {
    std::optional<std::string> id;  // the record written
    Problems problems;              // refused by the store (the record is not written)
  };

  // Starts the thread; the store is opened there. `done` is called on the worker thread.
  SaveWorker(std::filesystem::path store_path, const Vocabulary& vocabulary, std::function<void()> done);
  ~SaveWorker();  // the write in progress finishes first
  SaveWorker(const SaveWorker&) = delete;
  SaveWorker& operator=(const SaveWorker&) = delete;

  void submit(Job job);
  // The outcome of the write, once it is done.
  std::optional<Outcome> take();
  // Waits until the write in progress is done (on closing, and in tests).
  void wait_idle();

 private:
  void run();
  Outcome write(LocalStore& store, const Job& job);

  std::filesystem::path store_path_;
  const Vocabulary& vocabulary_;
  std::function<void()> done_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::optional<Job> job_;
  std::optional<Outcome> outcome_;
  bool busy_ = false;  // a job is queued or being written
  std::thread thread_;  // last: started once everything above exists
};

class AppState {
 public:
  struct Options {
    std::filesystem::path store_path;
    std::optional<Lang> lang;             // --lang, over the saved setting
    std::optional<Date> today;            // tests
    bool background_sync = true;          // off for screenshots and tests
    std::function<void()> wake;           // wakes the UI loop (glfwPostEmptyEvent); any thread
  };

  AppState(const Assets& assets, Options options);
  ~AppState();
  AppState(const AppState&) = delete;
  AppState& operator=(const AppState&) = delete;

  const Assets& assets() const { return assets_; }
  // The store's vocabulary: the bundled one plus any update the server published.
  const Vocabulary& vocabulary() const { return store_->vocabulary(); }
  LocalStore& store() { return *store_; }
  const std::filesystem::path& store_path() const { return options_.store_path; }
  Lang lang() const { return lang_; }
  void set_lang(Lang lang);
  std::string text(std::string_view key, const std::vector<std::pair<std::string, std::string>>& values = {}) const {
    return assets_.translator.text(lang_, key, values);
  }
  std::string label(std::string_view set, std::string_view code) const { return vocabulary().label(set, code, lang_); }
  // The name of a vocabulary set ("Tranche d’âge").
  std::string set_label(std::string_view set) const {
    const auto& entry = vocabulary().set(set);
    return lang_ == Lang::fr ? entry.label_fr : entry.label_en;
  }
  Date today() const;

  // Settings.
  float text_scale() const { return text_scale_; }
  void set_text_scale(float scale);
  std::string setting(const char* key) const;
  void set_setting(const char* key, const std::string& value);
  bool needs_first_run_setup() const;
  std::string advisor_display_name() const;

  // Places for the pickers, refreshed after a sync pulled new ones.
  const std::vector<PlaceChoice>& places() const { return places_; }
  void reload_places();
  std::string place_label(const std::string& id) const;
  // Adds a place of activity from the first-run screen (offline set-up): name, commune, postcode.
  Problems add_place(const std::string& nom, const std::string& commune, const std::string& code_postal,
                     std::string& new_id);

  // Forms: the screens edit these in place.
  SessionForm individual;
  SessionForm workshop;
  LotForm lot;
  DeviceForm device;
  EventForm event;
  std::string open_lot_id;     // the lot whose devices are being added
  std::string open_device_id;  // the device whose events are being recorded
  FormMessages individual_messages, workshop_messages, lot_messages, device_messages, event_messages;
  std::string last_saved_message;  // "Accompagnement enregistré." shown under the Save button

  // Saves a form: false with its messages set when it has problems (or a save is in progress);
  // true when the record went to SaveWorker. The form keeps what was typed until the write is
  // confirmed: then (in poll_saves) it is made ready for the next record; a refusal or a store
  // error becomes a message in the form, whose content is kept (and its draft).
  bool save_session(SessionForm& form, FormMessages& messages);
  bool save_lot();
  bool save_device();
  bool save_event();
  // A save is on its way to the store: the screens show "Enregistrement…" and no Save button.
  bool saving() const { return pending_save_.has_value(); }
  // The last save that ended was written (false: refused or a store error, in the form's messages).
  bool last_save_ok() const { return last_save_ok_; }
  // Takes the outcome of the save in progress (poll_sync() calls it): true when it ended.
  bool poll_saves();
  // Waits for the save in progress and takes its outcome: tests, and closing the app.
  void finish_saves();
  // What went wrong outside a form (a store error caught at the frame loop): the banner's text.
  const std::string& error_banner() const { return error_banner_; }
  void report_error(const std::string& detail);
  void dismiss_error() { error_banner_.clear(); }
  // Opens a stored record in its form (from the history); false when it is gone.
  bool edit_record(const std::string& id, std::string& view);
  bool delete_record(const std::string& id, std::string& error);
  std::vector<LotDevice> devices_of_open_lot() const;
  void new_lot();

  // Drafts: written to "<store>.drafts.json" (atomically, without fsync: it only has to survive
  // the app, not the machine) when a form changed; restored at start.
  void save_drafts_if_changed();
  std::filesystem::path drafts_path() const;

  // Sync.
  const SyncStatus& sync_status() const { return sync_status_; }
  // Reads the store's sync settings again and asks StoreWorker for the counts (they arrive
  // through poll_sync()).
  void refresh_sync_status();
  // Called each frame: takes what the worker posted; true when something changed.
  bool poll_sync();
  void sync_now();
  // Enrolls this device on a worker thread (the UI never waits on the network); the outcome
  // arrives through poll_sync() in enrollment().
  void start_enrollment(const std::string& server_url, const std::string& code);
  struct Enrollment {
    bool running = false;
    bool done = false;
    bool ok = false;
    std::string message;  // in plain words
  };
  const Enrollment& enrollment() const { return enrollment_; }
  void start_background_sync();
  // Bumped whenever records changed here or arrived through sync, so views re-query (and the
  // sync counts are read again).
  std::uint64_t data_generation() const { return data_generation_; }
  void bump_data_generation();
  StoreWorker& store_worker() { return *store_worker_; }

 private:
  // Validates `record` (with `problems` found by the form itself) and adds it, or, with
  // `editing_id`, replaces the edited record's fields. Returns the record's id; on any problem
  // sets `messages` and stores nothing.
  // Checks `record` (with `problems` found by the form itself) and hands it to SaveWorker, or,
  // with `editing_id`, its replacement of the edited record's fields. On any problem sets
  // `messages` and returns false. `on_saved` runs on the UI thread with the record's id once it
  // is written.
  bool write_record(RecordKind kind, const nlohmann::json& record, const std::string& editing_id,
                    FormMessages& messages, std::function<void(const std::string&)> on_saved, Problems problems = {});
  struct PendingSave {
    FormMessages* messages;
    std::function<void(const std::string&)> on_saved;
  };
  std::optional<PendingSave> pending_save_;
  bool last_save_ok_ = false;
  std::string error_banner_;
  void restore_drafts();
  std::string sync_error_in_words(const SyncReport& report) const;

  const Assets& assets_;
  Options options_;
  std::unique_ptr<LocalStore> store_;
  Lang lang_ = Lang::fr;
  float text_scale_ = 1.0f;
  std::vector<PlaceChoice> places_;
  std::string last_drafts_json_;
  std::uint64_t data_generation_ = 0;

  SyncStatus sync_status_;
  std::unique_ptr<BackgroundSync> background_;
  // Posted by the sync worker, taken by the UI thread.
  std::mutex posted_mutex_;
  std::optional<SyncReport> posted_report_;
  std::optional<SyncProgress> posted_progress_;
  std::optional<EnrollResult> posted_enrollment_;
  std::optional<StoreWorker::Counts> posted_counts_;
  Enrollment enrollment_;
  std::thread enrollment_thread_;
  std::unique_ptr<SaveWorker> save_worker_;
  std::unique_ptr<StoreWorker> store_worker_;  // last: stopped first
};

}  // namespace relais::app
