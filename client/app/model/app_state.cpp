#include "app_state.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <system_error>

#include "relais/hlc.hpp"
#include "relais/records.hpp"
#include "relais/text.hpp"

namespace relais::app {

using nlohmann::json;

namespace {

std::string text_of(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

bool is_live(const json& record) {
  const auto it = record.find("deleted_at");
  return it == record.end() || it->is_null();
}

// The fields of `stored` the new form no longer has, set to null so that update() removes them.
json with_removed_fields(json fields, const json& stored) {
  for (const auto& [key, value] : stored.items()) {
    if (key == "id" || key == "events" || key == "devenir" || is_metadata_key(key)) continue;
    if (!fields.contains(key) && !value.is_null()) fields[key] = nullptr;
  }
  fields.erase("id");
  fields.erase("kind");
  return fields;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

StoreWorker::StoreWorker(std::filesystem::path store_path, const Vocabulary& vocabulary,
                         std::function<void(Counts)> on_counts)
    : store_path_(std::move(store_path)), vocabulary_(vocabulary), on_counts_(std::move(on_counts)),
      thread_([this] { run(); }) {}

StoreWorker::~StoreWorker() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void StoreWorker::request_counts() {
  {
    std::lock_guard lock(mutex_);
    counts_wanted_ = true;
  }
  wake_.notify_all();
}

void StoreWorker::wrote() {
  {
    std::lock_guard lock(mutex_);
    ++writes_;
    counts_after_quiet_ = true;
    last_write_ = std::chrono::steady_clock::now();
  }
  wake_.notify_all();
}

int StoreWorker::checkpoints() const {
  std::lock_guard lock(mutex_);
  return checkpoints_;
}

void StoreWorker::run() {
  std::unique_ptr<LocalStore> store;
  try {
    // Opened here, not on the UI thread. Its own connection: it reads a snapshot of its own and
    // checkpoints without waiting for the UI's writes.
    store = std::make_unique<LocalStore>(store_path_, vocabulary_);
  } catch (const std::exception& error) {
    std::cerr << "relais: cannot read the sync status: " << error.what() << '\n';  // the screens keep "…"
    return;
  }
  std::unique_lock lock(mutex_);
  while (!stop_) {
    const bool quiet = std::chrono::steady_clock::now() >= last_write_ + kQuiet;
    if (counts_wanted_ || (counts_after_quiet_ && quiet && writes_ == 0)) {
      counts_wanted_ = false;
      counts_after_quiet_ = false;
      lock.unlock();
      Counts counts;
      try {
        counts.pending = store->pending_count();
        counts.quarantined = store->quarantined();
        counts.conflicts = store->conflict_log();
        if (on_counts_) on_counts_(std::move(counts));
      } catch (const std::exception& error) {
        std::cerr << "relais: cannot read the sync status: " << error.what() << '\n';
      }
      // The journal scan filled the page cache: give it back (the connection stays open).
      sqlite3_db_release_memory(store->database().handle());
      lock.lock();
      continue;
    }
    if (writes_ > 0 || counts_after_quiet_) {
      if (!quiet && writes_ < kMaxWrites) {
        wake_.wait_until(lock, last_write_ + kQuiet);
        continue;
      }
      writes_ = 0;
      lock.unlock();
      try {
        // PASSIVE: copies what no reader still needs, without waiting for readers or writers.
        store->database().exec("PRAGMA wal_checkpoint(PASSIVE)");
      } catch (const std::exception& error) {
        std::cerr << "relais: checkpoint: " << error.what() << '\n';  // the next write tries again
      }
      sqlite3_db_release_memory(store->database().handle());
      lock.lock();
      ++checkpoints_;
      continue;
    }
    wake_.wait(lock);
  }
}

// ---------------------------------------------------------------------------------------------

SaveWorker::SaveWorker(std::filesystem::path store_path, const Vocabulary& vocabulary, std::function<void()> done)
    : store_path_(std::move(store_path)), vocabulary_(vocabulary), done_(std::move(done)), thread_([this] { run(); }) {}

SaveWorker::~SaveWorker() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void SaveWorker::submit(Job job) {
  {
    std::lock_guard lock(mutex_);
    job_ = std::move(job);
    outcome_.reset();
    busy_ = true;
  }
  wake_.notify_all();
}

std::optional<SaveWorker::Outcome> SaveWorker::take() {
  std::lock_guard lock(mutex_);
  std::optional<Outcome> out;
  out.swap(outcome_);
  return out;
}

void SaveWorker::wait_idle() {
  std::unique_lock lock(mutex_);
  wake_.wait(lock, [this] { return !busy_; });
}

SaveWorker::Outcome SaveWorker::write(LocalStore& store, const Job& job) {
  Outcome out;
  try {
    // Checked again with this connection's vocabulary (with any update the sync pulled since),
    // into the store's own types.
    store.refresh_vocabulary();
    const ValidationContext context{store.vocabulary(), job.today};
    auto checked = check_record(job.kind, job.record, context);
    if (!checked.ok()) {
      out.problems = std::move(checked.problems);
      return out;
    }
    WriteResult written;
    if (job.editing_id.empty()) {
      written = store.add(std::move(checked.record));
    } else if (const auto stored = store.get(job.editing_id)) {
      written = store.update(job.editing_id, with_removed_fields(job.record, *stored));
    } else {
      written.problems.push_back(Problem{"", "not_found", {{"value", job.editing_id}}});
    }
    if (!written.ok()) {
      out.problems = std::move(written.problems);
    } else {
      out.id = job.editing_id.empty() ? written.ids.front() : job.editing_id;
    }
  } catch (const sqlite::Error& error) {
    out.problems.push_back(error.busy() ? Problem{"", "store_busy", {}} : Problem{"", "store_error", {{"detail", error.what()}}});
  } catch (const std::exception& error) {
    out.problems.push_back(Problem{"", "store_error", {{"detail", error.what()}}});
  }
  return out;
}

void SaveWorker::run() {
  std::unique_ptr<LocalStore> store;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || job_.has_value(); });
    if (!job_) return;  // stopping with nothing left to write
    const auto job = std::move(*job_);
    job_.reset();
    lock.unlock();
    Outcome outcome;
    try {
      // Opened here, on the first save, not on the UI thread.
      if (!store) store = std::make_unique<LocalStore>(store_path_, vocabulary_);
      outcome = write(*store, job);
    } catch (const std::exception& error) {
      outcome.problems.push_back(Problem{"", "store_error", {{"detail", error.what()}}});
    }
    lock.lock();
    outcome_ = std::move(outcome);
    busy_ = job_.has_value();
    wake_.notify_all();
    lock.unlock();
    if (done_) done_();
    lock.lock();
  }
}

// ---------------------------------------------------------------------------------------------

AppState::AppState(const Assets& assets, Options options) : assets_(assets), options_(std::move(options)) {
  LocalStore::Options store_options;
  store_options.today = options_.today;
  store_ = std::make_unique<LocalStore>(options_.store_path, assets_.vocabulary, store_options);
  // Checkpoints of this connection's writes run on StoreWorker, not on the saving thread.
  store_->database().exec("PRAGMA wal_autocheckpoint = 0");
  store_worker_ = std::make_unique<StoreWorker>(options_.store_path, assets_.vocabulary, [this](StoreWorker::Counts counts) {
    {
      std::lock_guard lock(posted_mutex_);
      posted_counts_ = std::move(counts);
    }
    if (options_.wake) options_.wake();
  });

  save_worker_ = std::make_unique<SaveWorker>(options_.store_path, assets_.vocabulary, [this] {
    if (options_.wake) options_.wake();
  });

  if (options_.lang) {
    lang_ = *options_.lang;
  } else {
    lang_ = setting(setting::lang) == "en" ? Lang::en : Lang::fr;
  }
  if (const auto scale = parse_decimal(setting(setting::text_scale))) {
    text_scale_ = std::clamp(static_cast<float>(*scale), 0.8f, 1.6f);
  }
  reload_places();

  individual.type = "individuel";
  workshop.type = "collectif";
  for (auto* form : {&individual, &workshop}) {
    form->date = format_date_french(today());
    form->lieu_id = setting(setting::lieu_id);
  }
  lot.date = format_date_french(today());
  lot.lieu_id = setting(setting::lieu_id);
  event.date = format_date_french(today());
  event.auteur = advisor_display_name();
  restore_drafts();
  last_drafts_json_.clear();
  refresh_sync_status();
}

AppState::~AppState() {
  // A save on its way is written and taken first, so that the draft saved below is what is left.
  try {
    finish_saves();
  } catch (const std::exception& error) {
    std::cerr << "relais: " << error.what() << '\n';
  }
  save_drafts_if_changed();
  if (enrollment_thread_.joinable()) enrollment_thread_.join();
  background_.reset();  // joins the worker before the store goes
}

Date AppState::today() const { return options_.today.value_or(today_local()); }

void AppState::set_lang(Lang lang) {
  lang_ = lang;
  set_setting(setting::lang, lang == Lang::fr ? "fr" : "en");
  reload_places();
}

void AppState::set_text_scale(float scale) {
  text_scale_ = std::clamp(scale, 0.8f, 1.6f);
  std::ostringstream text;
  text << text_scale_;
  set_setting(setting::text_scale, text.str());
}

std::string AppState::setting(const char* key) const { return store_->meta(key).value_or(""); }

void AppState::set_setting(const char* key, const std::string& value) {
  store_->set_meta(key, value);
  store_worker_->wrote();
}

void AppState::bump_data_generation() {
  ++data_generation_;
  store_worker_->wrote();  // counts again and checkpoints once the UI is quiet, not after every save
}

bool AppState::needs_first_run_setup() const {
  return setting(setting::setup_done).empty() && store_->meta(sync_meta::token).value_or("").empty();
}

std::string AppState::advisor_display_name() const {
  const auto user = json::parse(store_->meta(sync_meta::user).value_or("{}"), nullptr, false);
  std::string prenom = setting(setting::advisor_prenom);
  std::string nom = setting(setting::advisor_nom);
  if (prenom.empty() && nom.empty() && user.is_object()) {
    prenom = text_of(user, "prenom");
    nom = text_of(user, "nom");
  }
  return trim(prenom + " " + nom);
}

// ---------------------------------------------------------------------------------------------

void AppState::reload_places() {
  places_.clear();
  ListQuery query;
  query.kinds = {RecordKind::place};
  for (const auto& place : store_->list(query)) {
    PlaceChoice choice;
    choice.id = text_of(place, "id");
    choice.label = text_of(place, "nom");
    const auto commune = text_of(place, "commune");
    if (!commune.empty()) choice.label += " — " + commune;
    places_.push_back(std::move(choice));
  }
  std::sort(places_.begin(), places_.end(), [](const auto& a, const auto& b) { return a.label < b.label; });
}

std::string AppState::place_label(const std::string& id) const {
  for (const auto& place : places_) {
    if (place.id == id) return place.label;
  }
  return {};
}

Problems AppState::add_place(const std::string& nom, const std::string& commune, const std::string& code_postal,
                             std::string& new_id) {
  json place{{"nom", trim(nom)}, {"commune", trim(commune)}, {"code_postal", trim(code_postal)}};
  const ValidationContext context{vocabulary(), today()};
  auto checked = check_record(RecordKind::place, place, context);
  if (!checked.ok()) return checked.problems;
  auto written = store_->add(std::move(checked.record));
  if (!written.ok()) return written.problems;
  new_id = written.ids.front();
  reload_places();
  bump_data_generation();
  return {};
}

// ---------------------------------------------------------------------------------------------

bool AppState::write_record(RecordKind kind, const json& record, const std::string& editing_id, FormMessages& messages,
                            std::function<void(const std::string&)> on_saved, Problems problems) {
  if (pending_save_) return false;  // one at a time: the Save buttons wait for it
  last_saved_message.clear();
  const ValidationContext context{vocabulary(), today()};
  auto checked = check_record(kind, record, context);
  problems.insert(problems.end(), checked.problems.begin(), checked.problems.end());
  if (!problems.empty()) {
    messages.set(problems, assets_.translator, lang_);
    return false;
  }
  messages.clear();
  pending_save_ = PendingSave{&messages, std::move(on_saved)};
  save_worker_->submit(SaveWorker::Job{kind, record, editing_id, today()});
  return true;
}

bool AppState::poll_saves() {
  if (!pending_save_) return false;
  auto outcome = save_worker_->take();
  if (!outcome) return false;
  auto pending = std::move(*pending_save_);
  pending_save_.reset();
  last_save_ok_ = outcome->id.has_value();
  if (!outcome->id) {
    // Nothing was written: the form and its draft keep what was typed.
    pending.messages->set(outcome->problems, assets_.translator, lang_);
    return true;
  }
  pending.messages->clear();
  bump_data_generation();
  pending.on_saved(*outcome->id);
  save_drafts_if_changed();
  return true;
}

void AppState::finish_saves() {
  if (!pending_save_) return;
  save_worker_->wait_idle();
  poll_saves();
}

void AppState::report_error(const std::string& detail) {
  error_banner_ = text("app.error.banner", {{"detail", detail}});
}

bool AppState::save_session(SessionForm& form, FormMessages& messages) {
  return write_record(RecordKind::session, form.to_record_json(vocabulary()), form.editing_id, messages,
                      [this, &form](const std::string&) {
                        last_saved_message = text(form.is_workshop() ? "app.saved.workshop" : "app.saved.session");
                        form.prepare_next();
                      });
}

bool AppState::save_lot() {
  return write_record(RecordKind::lot, lot.to_record_json(), lot.editing_id, lot_messages, [this](const std::string& id) {
    lot.editing_id = id;
    open_lot_id = id;
    open_device_id.clear();
    last_saved_message = text("app.saved.lot");
  });
}

bool AppState::save_device() {
  if (open_lot_id.empty()) return false;
  std::optional<Problem> weight_problem;
  const auto record = device.to_record_json(open_lot_id, weight_problem);
  Problems problems;
  if (weight_problem) problems.push_back(*weight_problem);
  return write_record(
      RecordKind::device, record, {}, device_messages,
      [this](const std::string& id) {
        open_device_id = id;
        last_saved_message = text("app.saved.device");
        device.prepare_next();
      },
      std::move(problems));
}

bool AppState::save_event() {
  if (open_device_id.empty()) return false;
  return write_record(RecordKind::device_event, event.to_record_json(open_device_id), {}, event_messages,
                      [this](const std::string&) {
                        last_saved_message = text("app.saved.event");
                        // The next event is often by the same person on the same day.
                        EventForm next;
                        next.auteur = event.auteur;
                        next.date = event.date;
                        event = std::move(next);
                      });
}

void AppState::new_lot() {
  lot = LotForm{};
  lot.date = format_date_french(today());
  lot.lieu_id = setting(setting::lieu_id);
  open_lot_id.clear();
  open_device_id.clear();
  device = DeviceForm{};
  lot_messages.clear();
  device_messages.clear();
  event_messages.clear();
}

std::vector<LotDevice> AppState::devices_of_open_lot() const {
  std::vector<LotDevice> out;
  if (open_lot_id.empty()) return out;
  auto statement = store_->database().prepare(
      "SELECT id FROM devices WHERE lot_id = ? AND deleted_at IS NULL ORDER BY created_at, id");
  statement.bind(1, open_lot_id);
  std::vector<std::string> ids;
  while (statement.step()) ids.push_back(statement.column_text(0));
  for (const auto& id : ids) {
    const auto record = store_->get(id);
    if (!record) continue;
    LotDevice row;
    row.id = id;
    row.summary = label("type_appareil", text_of(*record, "type"));
    const auto model = trim(text_of(*record, "marque") + " " + text_of(*record, "modele"));
    if (!model.empty()) row.summary += " · " + model;
    const auto serial = text_of(*record, "numero_serie");
    if (!serial.empty()) row.summary += " · " + serial;
    row.devenir = label("devenir", text_of(*record, "devenir"));
    if (const auto events = record->find("events"); events != record->end() && events->is_array()) {
      for (const auto& item : *events) {
        std::string line = text_of(item, "date");
        if (const auto date = parse_date(line)) line = format_date_french(*date);
        line += "  " + label("type_evenement", text_of(item, "type"));
        if (text_of(item, "type") == "efface") {
          line += " (" + label("methode_effacement", text_of(item, "methode")) + ", " +
                  label("resultat_effacement", text_of(item, "resultat")) + ")";
        }
        const auto code = text_of(item, "code_beneficiaire");
        if (!code.empty()) line += " → " + code;
        row.events.push_back(std::move(line));
      }
    }
    out.push_back(std::move(row));
  }
  return out;
}

bool AppState::edit_record(const std::string& id, std::string& view) {
  const auto kind = store_->kind_of_id(id);
  const auto record = store_->get(id);
  if (!kind || !record || !is_live(*record)) return false;
  switch (*kind) {
    case RecordKind::session: {
      auto form = SessionForm::from_record(*record);
      if (form.is_workshop()) {
        workshop = std::move(form);
        workshop_messages.clear();
        view = "workshop";
      } else {
        individual = std::move(form);
        individual_messages.clear();
        view = "session";
      }
      return true;
    }
    case RecordKind::lot:
      lot = LotForm::from_record(*record);
      open_lot_id = id;
      open_device_id.clear();
      lot_messages.clear();
      view = "equipment";
      return true;
    case RecordKind::device: {
      const auto lot_record = store_->get(text_of(*record, "lot_id"));
      if (!lot_record) return false;
      lot = LotForm::from_record(*lot_record);
      open_lot_id = lot.editing_id;
      open_device_id = id;
      view = "equipment";
      return true;
    }
    default:
      return false;
  }
}

bool AppState::delete_record(const std::string& id, std::string& error) {
  const auto written = store_->remove(id);
  if (!written.ok()) {
    error.clear();
    for (const auto& problem : written.problems) {
      if (!error.empty()) error += "\n";
      error += assets_.translator.text(lang_, "problem." + problem.reason, problem.args);
    }
    return false;
  }
  if (individual.editing_id == id) individual.prepare_next();
  if (workshop.editing_id == id) workshop.prepare_next();
  if (open_lot_id == id) new_lot();
  bump_data_generation();
  return true;
}

// ---------------------------------------------------------------------------------------------

std::filesystem::path AppState::drafts_path() const {
  auto path = options_.store_path;
  path += ".drafts.json";
  return path;
}

void AppState::save_drafts_if_changed() {
  const json drafts{{"version", 1},
                    {"individual", individual.to_draft()},
                    {"workshop", workshop.to_draft()},
                    {"lot", lot.to_draft()},
                    {"device", device.to_draft()},
                    {"event", event.to_draft()},
                    {"open_lot_id", open_lot_id},
                    {"open_device_id", open_device_id}};
  auto text = drafts.dump();
  if (text == last_drafts_json_) return;
  // Write then rename: a crash mid-write leaves the previous draft, never half of one.
  const auto path = drafts_path();
  auto temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return;  // a full disk must not stop the advisor: the next change tries again
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (!error) last_drafts_json_ = std::move(text);
}

void AppState::restore_drafts() {
  std::ifstream in(drafts_path(), std::ios::binary);
  if (!in) return;
  const auto drafts = json::parse(in, nullptr, false);
  if (!drafts.is_object()) return;  // an unreadable draft is dropped, never fatal
  if (drafts.contains("individual")) {
    individual = SessionForm::from_draft(drafts["individual"]);
    individual.type = "individuel";
  }
  if (drafts.contains("workshop")) {
    workshop = SessionForm::from_draft(drafts["workshop"]);
    workshop.type = "collectif";
  }
  if (drafts.contains("lot")) lot = LotForm::from_draft(drafts["lot"]);
  if (drafts.contains("device")) device = DeviceForm::from_draft(drafts["device"]);
  if (drafts.contains("event")) event = EventForm::from_draft(drafts["event"]);
  // The open lot and device must still exist (the draft may be older than a delete).
  const auto live = [this](const std::string& id) {
    const auto record = id.empty() ? std::nullopt : store_->get(id);
    return record && is_live(*record);
  };
  open_lot_id = live(text_of(drafts, "open_lot_id")) ? text_of(drafts, "open_lot_id") : "";
  open_device_id = !open_lot_id.empty() && live(text_of(drafts, "open_device_id")) ? text_of(drafts, "open_device_id") : "";
  if (!lot.editing_id.empty() && !live(lot.editing_id)) lot.editing_id.clear();
  for (auto* form : {&individual, &workshop}) {
    if (!form->editing_id.empty() && !live(form->editing_id)) form->editing_id.clear();
    if (form->date.empty()) form->date = format_date_french(today());
  }
  if (lot.date.empty()) lot.date = format_date_french(today());
  if (event.date.empty()) event.date = format_date_french(today());
}

// ---------------------------------------------------------------------------------------------

void AppState::refresh_sync_status() {
  auto& status = sync_status_;
  status.server_url = store_->meta(sync_meta::server_url).value_or("");
  status.enrolled = !store_->meta(sync_meta::token).value_or("").empty();
  status.last_success = store_->meta(sync_meta::last_success).value_or("");
  if (status.last_error.empty()) status.last_error = store_->meta(sync_meta::last_error).value_or("");
  // Saved by the sync's connection when it learnt the server's time (LocalStore::learn_server_time).
  const auto offset = store_->meta("clock_offset_ms").value_or("0");
  status.clock_warning = clock_warning(offset.empty() ? 0 : std::stoll(offset), lang_);
  store_worker_->request_counts();  // pending, quarantined and conflicts: posted back
  const auto user = json::parse(store_->meta(sync_meta::user).value_or("{}"), nullptr, false);
  status.user_label.clear();
  if (user.is_object()) {
    status.user_label = trim(text_of(user, "prenom") + " " + text_of(user, "nom"));
    const auto role = text_of(user, "role");
    if (!role.empty()) status.user_label += " (" + label("role", role) + ")";
  }
}

std::string AppState::sync_error_in_words(const SyncReport& report) const {
  const auto& code = report.error_code;
  if (code == "cannot_connect" || code == "cannot_resolve" || code == "timeout") return text("app.sync.error.offline");
  if (code == "tls") return text("app.sync.error.tls", {{"detail", report.error}});
  if (code == "unauthorized") return text("app.sync.error.unauthorized");
  if (code == "forbidden") return text("app.sync.error.forbidden");
  if (code == "unsupported_protocol") return text("app.sync.error.update");
  if (code == "not_enrolled") return text("app.sync.error.not_enrolled");
  if (code == "cancelled") return {};
  return text("app.sync.error.other", {{"detail", report.error}});
}

bool AppState::poll_sync() {
  bool saved = poll_saves();
  std::optional<SyncReport> report;
  std::optional<SyncProgress> progress;
  std::optional<StoreWorker::Counts> counts;
  {
    std::lock_guard lock(posted_mutex_);
    report.swap(posted_report_);
    progress.swap(posted_progress_);
    counts.swap(posted_counts_);
  }
  bool changed = saved;
  if (counts) {
    sync_status_.counts_known = true;
    sync_status_.pending = counts->pending;
    sync_status_.quarantined = std::move(counts->quarantined);
    sync_status_.conflicts = std::move(counts->conflicts);
    changed = true;
  }
  const bool running = background_ && background_->running_sync();
  if (running != sync_status_.running) {
    sync_status_.running = running;
    changed = true;
  }
  if (progress) {
    sync_status_.progress_phase = progress->phase;
    sync_status_.progress_done = progress->done;
    changed = true;
  }
  std::optional<EnrollResult> enrolled;
  {
    std::lock_guard lock(posted_mutex_);
    enrolled.swap(posted_enrollment_);
  }
  if (enrolled) {
    if (enrollment_thread_.joinable()) enrollment_thread_.join();
    enrollment_.running = false;
    enrollment_.done = true;
    enrollment_.ok = enrolled->ok;
    enrollment_.message = enrolled->ok ? text("app.sync.enrolled", {{"name", advisor_display_name()}})
                                       : text("app.sync.enroll_failed", {{"detail", enrolled->error}});
    if (enrolled->ok) {
      set_setting(setting::setup_done, "server");
      refresh_sync_status();
      start_background_sync();
    }
    changed = true;
  }
  if (report) {
    sync_status_.online = report->ok() || (report->error_code.rfind("http_", 0) == 0) ||
                          report->error_code == "unauthorized" || report->error_code == "forbidden";
    sync_status_.last_error = report->ok() ? std::string{} : sync_error_in_words(*report);
    sync_status_.progress_phase.clear();
    sync_status_.progress_done = 0;
    // A vocabulary update pulled by the sync's connection is this connection's at once.
    const bool new_vocabulary = store_->refresh_vocabulary();
    if (report->pulled > 0 || new_vocabulary) {
      reload_places();
      bump_data_generation();
    }
    refresh_sync_status();
    changed = true;
  }
  return changed;
}

void AppState::start_background_sync() {
  if (background_ || !options_.background_sync) return;
  if (store_->meta(sync_meta::token).value_or("").empty()) return;
  BackgroundSync::Options sync_options;
  background_ = std::make_unique<BackgroundSync>(
      options_.store_path, assets_.vocabulary, sync_options,
      [this](const SyncReport& report) {
        {
          std::lock_guard lock(posted_mutex_);
          posted_report_ = report;
        }
        if (options_.wake) options_.wake();
      },
      [this](const SyncProgress& progress) {
        {
          std::lock_guard lock(posted_mutex_);
          posted_progress_ = progress;
        }
        if (options_.wake) options_.wake();
      });
}

void AppState::start_enrollment(const std::string& server_url, const std::string& code) {
  if (enrollment_.running) return;
  if (enrollment_thread_.joinable()) enrollment_thread_.join();
  const auto url = trim(server_url);
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    enrollment_ = {false, true, false, text("app.sync.bad_url")};
    return;
  }
  if (trim(code).empty()) {
    enrollment_ = {false, true, false, text("app.sync.code_required")};
    return;
  }
  enrollment_ = {true, false, false, {}};
  // A running background sync would use the old token: stop it, it restarts once enrolled.
  background_.reset();
  HttpClientOptions http;
  http.base_url = url;
  if (const auto ca = store_->meta(sync_meta::ca_file); ca && !ca->empty()) http.ca_file = *ca;
  enrollment_thread_ = std::thread([this, http, code = trim(code)] {
    EnrollResult result;
    try {
      LocalStore store(options_.store_path, assets_.vocabulary);
      const char* host = std::getenv("HOSTNAME");
      result = enroll(store, http, code, host != nullptr ? host : "relais");
    } catch (const std::exception& error) {
      result.ok = false;
      result.error = error.what();
    }
    {
      std::lock_guard lock(posted_mutex_);
      posted_enrollment_ = std::move(result);
    }
    if (options_.wake) options_.wake();
  });
}

void AppState::sync_now() {
  if (background_) {
    background_->request_now();
  } else {
    start_background_sync();  // a new worker syncs at once
  }
}

}  // namespace relais::app
