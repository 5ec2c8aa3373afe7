// Statistics benchmark (issue 5): "statistics over 1,000,000 sessions in under 200 ms for a
// one-year period". Builds a team store of N sessions over 2025 through LocalStore::add (the
// real write path: validation, the record, its journal entry and the statistics index with its
// triggers), then times stats::compute on a fresh read-only connection, as the app's statistics
// worker runs it.
//
//   relais_stats_bench [--sessions N] [--reuse] [--dir PATH] [--batch N] [--runs N] [--case TEXT] [--no-size]
//                      [--writer-pragma TEXT]...
//
// The store is kept in --dir (default /tmp/relais-stats-bench) as sessions-N.db. With --reuse, a
// complete store from an earlier run is used as it is (the insert and save figures are then
// not measured); without it, the store is made afresh. --case runs only the cases whose name
// contains TEXT and --no-size skips the size report (both for profiling a reused store).
// --writer-pragma "temp_store = MEMORY" (repeatable) sets the writing connection up otherwise
// than the store does, an experiment on the insert rate only.
//
// The dataset: 200 advisors (the store's advisor_id changes between batches, as in a team store
// pulled by a coordinator: each batch of 1,000 is one advisor's), 50 places of activity in 12
// départements, 500 communes; one session in ten a workshop of 3 to 18 people; 1 to 3 themes,
// a quarter of the sessions with administrative help and 1 or 2 administrative themes; every
// type_lieu; equipment; a beneficiary profile on every individual session (a commune of
// residence on 80 %); fewer sessions at weekends and in August. Plus 500 lots of 2 devices.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "relais/assets.hpp"
#include "relais/impact.hpp"
#include "relais/local_store.hpp"
#include "relais/sqlite.hpp"
#include "relais/statistics.hpp"
#include "relais/uuid.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// CPU time of the calling thread: on a shared machine, wall times also count the time spent
// waiting for a core.
double thread_cpu_ms() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

// CPU time of the whole process (user + system), in seconds.
double process_cpu_s() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

void report(const std::string& what, double value, const std::string& unit) {
  std::printf("%-62s %12.2f %s\n", what.c_str(), value, unit.c_str());
  std::fflush(stdout);
}

void note(const std::string& text) {
  std::printf("%s\n", text.c_str());
  std::fflush(stdout);
}

// Peak resident set size since the last reset_peak_rss(), from /proc (kB).
long peak_rss_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

long current_rss_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

void reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
}

struct Commune {
  std::string name;
  std::string code_postal;
  std::string code_insee;
};

// 500 communes in 12 départements, more of them in the first ones (a regional network).
std::vector<Commune> make_communes() {
  static const std::array<const char*, 12> departements{"69", "01", "38", "42", "71", "26",
                                                       "75", "93", "13", "59", "2A", "971"};
  std::vector<Commune> out;
  for (int i = 0; i < 500; ++i) {
    const int which = i < 200 ? 0 : i < 300 ? 1 + (i % 3) : 4 + (i % 8);
    const std::string departement = departements[static_cast<std::size_t>(which)];
    char insee[8];
    char postal[8];
    if (departement == "2A") {
      std::snprintf(insee, sizeof insee, "2A%03d", 1 + i % 300);
      std::snprintf(postal, sizeof postal, "20%03d", 100 + i % 90);
    } else if (departement == "971") {
      std::snprintf(insee, sizeof insee, "971%02d", 1 + i % 34);
      std::snprintf(postal, sizeof postal, "971%02d", 10 + i % 80);
    } else {
      std::snprintf(insee, sizeof insee, "%s%03d", departement.c_str(), 1 + i % 900);
      std::snprintf(postal, sizeof postal, "%s%03d", departement.c_str(), 10 * (i % 90));
    }
    out.push_back(Commune{"Commune n° " + std::to_string(i + 1), postal, insee});
  }
  return out;
}

template <typename T>
const T& pick(std::mt19937& random, const std::vector<T>& from) {
  return from[random() % from.size()];
}

class Generator {
 public:
  Generator(std::vector<Commune> communes, std::vector<std::string> places)
      : communes_(std::move(communes)), places_(std::move(places)) {
    // Days of 2025 weighted: weekdays 1, Saturdays 0.4, Sundays 0.05, August 0.5.
    std::vector<double> weights;
    for (int day = 0; day < 365; ++day) {
      const int weekday = (day + 2) % 7;  // 2025-01-01 was a Wednesday; 0 = Monday
      double weight = weekday < 5 ? 1.0 : weekday == 5 ? 0.4 : 0.05;
      if (day >= 212 && day < 243) weight *= 0.5;
      weights.push_back(weight);
    }
    days_ = std::discrete_distribution<int>(weights.begin(), weights.end());
  }

  relais::Session session(std::mt19937& random, std::int64_t i) {
    static const std::vector<std::string> themes{
        "diagnostic_numerique", "prendre_en_main_du_materiel", "maintenance_de_materiel",
        "gere_ses_contenus_numeriques", "navigation_sur_internet", "email", "bureautique", "reseaux_sociaux", "sante",
        "banque_et_achats_en_ligne", "entrepreneuriat", "insertion_professionnelle", "securite_numerique",
        "parentalite", "scolarite_et_numerique", "creer_avec_le_numerique", "culture_numerique",
        "intelligence_artificielle"};
    static const std::vector<std::string> administrative{
        "papiers_elections_citoyennete", "famille_scolarite", "social_sante", "travail_formation", "logement",
        "transports_mobilite", "argent_impots", "justice", "etrangers_europe", "loisirs_sports_culture",
        "associations"};
    static const std::vector<std::string> equipment{"ordinateur", "telephone", "tablette", "autre"};
    static const std::vector<std::string> genres{"masculin", "feminin", "feminin", "non_communique"};
    static const std::vector<std::string> ages{"moins_de_douze",          "douze_dix_huit",         "dix_huit_vingt_quatre",
                                               "vingt_cinq_trente_neuf",  "quarante_cinquante_neuf", "soixante_soixante_neuf",
                                               "soixante_dix_plus",       "non_communique"};
    static const std::vector<std::string> statuses{"scolarise", "sans_emploi", "en_emploi", "retraite", "non_communique"};
    static const std::vector<std::string> autonomy{"entierement_accompagne", "partiellement_autonome", "autonome"};

    relais::Session s;
    const bool workshop = random() % 10 == 0;
    s.type = workshop ? "collectif" : "individuel";
    const int day = days_(random);
    s.date = relais::format_date(date_of_2025(day));
    s.duree = workshop ? 60 + 30 * static_cast<int>(random() % 5) : 10 + 5 * static_cast<int>(random() % 24);

    const auto where = random() % 20;  // 50 % at a place, 15 % at home, 25 % at a distance, 10 % elsewhere
    if (where < 10) {
      s.type_lieu = "lieu_activite";
      s.lieu_id = pick(random, places_);
    } else if (where < 18 && !workshop) {
      s.type_lieu = where < 13 ? "domicile" : "a_distance";
    } else {
      s.type_lieu = "autre";
    }
    if (s.type_lieu == "domicile" || s.type_lieu == "autre") {
      const auto& commune = pick(random, communes_);
      s.lieu_commune = commune.name;
      s.lieu_code_postal = commune.code_postal;
      s.lieu_code_insee = commune.code_insee;
    }

    if (random() % 10 == 0) {
      s.materiel = {"aucun"};
    } else {
      s.materiel = {pick(random, equipment)};
      if (random() % 4 == 0) s.materiel.push_back(pick(random, equipment));
    }

    // 1 to 3 themes; with administrative help, its own theme and 1 or 2 administrative ones.
    const int count = 1 + static_cast<int>(random() % 3);
    if (!workshop && random() % 4 == 0) {
      s.thematiques.push_back("aide_aux_demarches_administratives");
      s.thematiques.push_back(pick(random, administrative));
      if (count == 3) s.thematiques.push_back(pick(random, administrative));
    } else {
      for (int k = 0; k < count; ++k) s.thematiques.push_back(pick(random, themes));
    }
    std::sort(s.thematiques.begin(), s.thematiques.end());
    s.thematiques.erase(std::unique(s.thematiques.begin(), s.thematiques.end()), s.thematiques.end());
    std::sort(s.materiel.begin(), s.materiel.end());
    s.materiel.erase(std::unique(s.materiel.begin(), s.materiel.end()), s.materiel.end());

    if (workshop) {
      s.titre_atelier = "Atelier n° " + std::to_string(i % 400);
      s.niveau = random() % 2 ? "debutant" : "intermediaire";
      relais::Participants participants;
      const auto below = [&](std::int64_t bound) {  // 0 to bound - 1
        return static_cast<std::int64_t>(random() % static_cast<std::uint64_t>(bound));
      };
      participants.total = 3 + below(16);
      participants.deja_accompagnes = below(participants.total + 1) / 2;
      const auto women = below(participants.total + 1);
      participants.genre["feminin"] = women;
      participants.genre["masculin"] = below(participants.total - women + 1);
      participants.tranche_age[pick(random, ages)] = participants.total / 2;
      if (participants.tranche_age.count("non_communique")) participants.tranche_age = {};
      participants.statut_social["retraite"] = participants.total / 3;
      s.participants = participants;
    } else {
      s.autonomie = pick(random, autonomy);
      relais::Beneficiaire person;
      person.genre = pick(random, genres);
      person.tranche_age = pick(random, ages);
      person.statut_social = pick(random, statuses);
      if (random() % 5 != 0) {
        const auto& commune = pick(random, communes_);
        person.commune = commune.name;
        person.commune_code_postal = commune.code_postal;
        person.commune_code_insee = commune.code_insee;
      }
      s.beneficiaire = person;
    }
    if (random() % 2 == 0) s.notes = "Séance " + std::to_string(i) + " : à revoir la semaine prochaine.";
    return s;
  }

  static relais::Date date_of_2025(int day_of_year) {
    static const std::array<unsigned, 12> lengths{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned month = 0;
    while (day_of_year >= static_cast<int>(lengths[month])) day_of_year -= static_cast<int>(lengths[month++]);
    return relais::Date{2025, month + 1, static_cast<unsigned>(day_of_year + 1)};
  }

  const std::vector<Commune>& communes() const { return communes_; }

 private:
  std::vector<Commune> communes_;
  std::vector<std::string> places_;
  std::discrete_distribution<int> days_;
};

// A digest of every figure (totals, breakdowns, series), to compare two implementations of
// stats::compute on the same store.
std::uint64_t digest(const relais::stats::Indicators& out) {
  std::uint64_t hash = 1469598103934665603ULL;
  const auto mix = [&](std::string_view text) {
    for (const char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    hash = (hash ^ 0xff) * 1099511628211ULL;
  };
  const auto number = [&](std::int64_t value) { mix(std::to_string(value)); };
  number(out.totals.accompagnements);
  number(out.totals.beneficiaires);
  number(out.totals.individual_sessions);
  number(out.totals.workshops);
  number(out.totals.workshop_participants);
  number(out.totals.minutes);
  for (const auto& breakdown : out.breakdowns) {
    mix(breakdown.dimension);
    for (const auto& row : breakdown.rows) {
      mix(row.code);
      number(row.activities);
      number(row.people);
      number(row.minutes);
    }
  }
  for (const auto* series : {&out.per_day, &out.per_week, &out.per_month}) {
    for (const auto& period : *series) {
      mix(period.period);
      number(period.activities);
      number(period.people);
      number(period.minutes);
    }
  }
  number(out.equipment.devices_collected);
  return hash;
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

// Builds the store: places, then sessions in batches (one advisor each), with 200 single saves
// timed when the store holds 100,000 sessions, then lots and devices.
bool build_store(const std::filesystem::path& path, const relais::Assets& assets, std::int64_t sessions, int batch_size,
                 const std::vector<std::string>& writer_pragmas) {
  relais::LocalStore store(path, assets.vocabulary);
  // An experiment, not what the app does: settings of the writing connection.
  for (const auto& pragma : writer_pragmas) store.database().exec("PRAGMA " + pragma);
  std::mt19937 random(2025);

  std::vector<std::string> advisors;
  for (int i = 0; i < 200; ++i) advisors.push_back(relais::make_uuid_v7());
  const auto communes = make_communes();
  std::vector<std::string> places;
  {
    std::vector<relais::AnyRecord> batch;
    for (int i = 0; i < 50; ++i) {
      const auto& commune = communes[static_cast<std::size_t>(i * 7 % 500)];
      relais::Place place;
      place.id = relais::make_uuid_v7();
      place.nom = "Lieu de médiation n° " + std::to_string(i + 1);
      place.commune = commune.name;
      place.code_postal = commune.code_postal;
      place.code_insee = commune.code_insee;
      places.push_back(place.id);
      batch.emplace_back(place);
    }
    const auto result = store.add(std::move(batch));
    if (!result.ok()) {
      std::fprintf(stderr, "places refused: %s %s\n", result.problems.front().field.c_str(), result.problems.front().reason.c_str());
      return false;
    }
  }
  Generator generator(communes, places);

  // The single saves are made when the store holds 100,000 sessions (or at the end of a smaller one).
  const std::int64_t singles_at = sessions > 100200 ? 100000 : std::max<std::int64_t>(0, sessions - 200);
  const int singles = 200;
  std::vector<double> single_ms;
  double batch_ms = 0;
  double batch_cpu_s = 0;
  std::int64_t batched = 0;
  std::int64_t done = 0;
  std::int64_t batches = 0;
  const auto started = Clock::now();
  while (done < sessions) {
    if (done == singles_at && single_ms.empty()) {
      // The form's Save: one session, one transaction, one fsync.
      store.set_meta("advisor_id", advisors.front());
      for (int k = 0; k < singles && done < sessions; ++k, ++done) {
        auto session = generator.session(random, done);
        const auto start = Clock::now();
        const auto result = store.add(relais::AnyRecord{std::move(session)});
        single_ms.push_back(ms_since(start));
        if (!result.ok()) {
          std::fprintf(stderr, "session refused: %s %s\n", result.problems.front().field.c_str(),
                       result.problems.front().reason.c_str());
          return false;
        }
      }
      report("save one session on a store of " + std::to_string(singles_at) + ": median", percentile(single_ms, 0.5),
             "ms");
      report("save one session: 95th percentile", percentile(single_ms, 0.95), "ms");
      report("save one session: max", percentile(single_ms, 1.0), "ms");
      continue;
    }
    auto limit = std::min(sessions, done + batch_size);
    if (done < singles_at) limit = std::min(limit, singles_at);
    store.set_meta("advisor_id", advisors[random() % advisors.size()]);
    std::vector<relais::AnyRecord> batch;
    batch.reserve(static_cast<std::size_t>(limit - done));
    for (auto i = done; i < limit; ++i) batch.emplace_back(generator.session(random, i));
    const auto start = Clock::now();
    const auto cpu_start = process_cpu_s();
    const auto result = store.add(std::move(batch));
    batch_ms += ms_since(start);
    batch_cpu_s += process_cpu_s() - cpu_start;
    if (!result.ok()) {
      std::fprintf(stderr, "batch refused: %s %s\n", result.problems.front().field.c_str(),
                   result.problems.front().reason.c_str());
      return false;
    }
    batched += limit - done;
    done = limit;
    if (++batches % 100 == 0) {
      std::printf("  %lld sessions, %.0f records/s so far\n", static_cast<long long>(done),
                  static_cast<double>(batched) / (batch_ms / 1000));
      std::fflush(stdout);
    }
  }
  report("insert " + std::to_string(batched) + " sessions in batches of " + std::to_string(batch_size) +
             " (add() only)",
         batch_ms / 1000, "s");
  report("  insert rate", static_cast<double>(batched) / (batch_ms / 1000), "sessions/s");
  report("  CPU time in add() (user + system)", batch_cpu_s, "s");
  report("  CPU per session", batch_cpu_s * 1e6 / static_cast<double>(batched), "us");

  // Equipment: 500 lots of two devices collected over the year.
  for (int i = 0; i < 500; ++i) {
    relais::Lot lot;
    lot.id = relais::make_uuid_v7();
    lot.date = relais::format_date(Generator::date_of_2025(i * 365 / 500));
    lot.type_donateur = "entreprise";
    lot.lieu_id = places[static_cast<std::size_t>(i % 50)];
    std::vector<relais::AnyRecord> batch{lot};
    for (int k = 0; k < 2; ++k) {
      relais::Device device;
      device.lot_id = lot.id;
      device.type = k == 0 ? "ordinateur_portable" : "smartphone";
      batch.emplace_back(device);
    }
    if (!store.add(std::move(batch)).ok()) return false;
  }
  store.database().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  report("whole build, with the 200 single saves and 500 lots", ms_since(started) / 1000, "s");
  store.set_meta("stats_bench_sessions", std::to_string(sessions));
  store.database().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  return true;
}

// What the index adds to a save: Index::put_session (the facts, and the daily sums through the
// triggers) for 200 sessions, each timed on its own, in a transaction that is rolled back so the
// store is left as it was. CPU and page cache only: the commit's fsync is not in it.
void measure_index_write(const std::filesystem::path& path) {
  relais::sqlite::Database db(path, relais::sqlite::Database::Mode::read_write);
  std::vector<std::string> places;
  std::vector<std::pair<std::string, relais::stats::Location>> place_locations;
  {
    auto select = db.prepare(
        "SELECT id, coalesce(json_extract(body, '$.commune'), ''), coalesce(code_postal, ''),"
        " coalesce(json_extract(body, '$.code_insee'), '') FROM places");
    while (select.step()) {
      places.push_back(select.column_text(0));
      place_locations.emplace_back(select.column_text(0), relais::stats::Location{select.column_text(1),
                                                                                 select.column_text(2),
                                                                                 select.column_text(3)});
    }
  }
  if (places.empty()) return;
  Generator generator(make_communes(), places);
  std::mt19937 random(7);
  std::vector<double> times;
  {
    relais::sqlite::Transaction transaction(db);  // never committed: rolled back when it ends
    relais::stats::Index index(db);
    for (int i = 0; i < 200; ++i) {
      auto session = generator.session(random, i);
      session.id = relais::make_uuid_v7();
      std::optional<relais::stats::Location> place;
      for (const auto& [id, location] : place_locations) {
        if (session.lieu_id == id) place = location;
      }
      const auto start = Clock::now();
      index.put_session(session, relais::stats::SessionOwner{"bench-advisor", ""}, place);
      times.push_back(ms_since(start));
    }
  }
  report("index write for one session (put_session, no fsync): median", percentile(times, 0.5), "ms");
  report("index write for one session: 95th percentile", percentile(times, 0.95), "ms");
}

void report_size(const std::filesystem::path& path) {
  relais::sqlite::Database db(path, relais::sqlite::Database::Mode::read_only);
  report("store file size", static_cast<double>(std::filesystem::file_size(path)) / 1e6, "MB");
  std::vector<std::pair<std::string, double>> sizes;
  double total = 0;
  try {
    // Tables with their indexes (an index is named after its table here: stat_sessions_day...).
    auto select = db.prepare(
        "SELECT d.name, coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d"
        " LEFT JOIN sqlite_schema m ON m.name = d.name GROUP BY d.name");
    std::vector<std::pair<std::string, double>> by_table;
    while (select.step()) {
      const auto table = select.column_text(1);
      const double bytes = static_cast<double>(select.column_int64(2));
      total += bytes;
      auto hit = std::find_if(by_table.begin(), by_table.end(), [&](const auto& entry) { return entry.first == table; });
      if (hit == by_table.end()) {
        by_table.emplace_back(table, bytes);
      } else {
        hit->second += bytes;
      }
    }
    std::sort(by_table.begin(), by_table.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    double stats_bytes = 0;
    for (const auto& [table, bytes] : by_table) {
      if (table.rfind("stat_", 0) == 0) stats_bytes += bytes;
      if (bytes >= 1e6) report("  " + table + " (with its indexes)", bytes / 1e6, "MB");
    }
    report("  statistics tables (stat_*), with their indexes", stats_bytes / 1e6, "MB");
    report("  statistics share of the store", 100.0 * stats_bytes / total, "%");
  } catch (const std::exception& error) {
    note(std::string("  (dbstat unavailable: ") + error.what() + ")");
  }
  auto count = db.prepare("SELECT (SELECT count(*) FROM stat_sessions), (SELECT count(*) FROM stat_facts),"
                          " (SELECT count(*) FROM stat_daily WHERE scope = ''), (SELECT count(*) FROM sessions)");
  count.step();
  report("sessions", static_cast<double>(count.column_int64(3)), "");
  report("stat_sessions rows", static_cast<double>(count.column_int64(0)), "");
  report("stat_facts rows", static_cast<double>(count.column_int64(1)), "");
  report("stat_daily rows", static_cast<double>(count.column_int64(2)), "");
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t sessions = 1000000;
  int batch_size = 1000;
  int runs = 5;
  std::vector<std::string> writer_pragmas;
  bool reuse = false;
  bool size = true;
  std::string only;
  std::filesystem::path dir = "/tmp/relais-stats-bench";
  for (int i = 1; i < argc; ++i) {
    const std::string option = argv[i];
    if (option == "--reuse") {
      reuse = true;
    } else if (option == "--no-size") {
      size = false;
    } else if (i + 1 < argc && option == "--case") {
      only = argv[++i];
    } else if (i + 1 < argc && option == "--sessions") {
      sessions = std::atoll(argv[++i]);
    } else if (i + 1 < argc && option == "--dir") {
      dir = argv[++i];
    } else if (i + 1 < argc && option == "--batch") {
      batch_size = std::atoi(argv[++i]);
    } else if (i + 1 < argc && option == "--writer-pragma") {
      writer_pragmas.emplace_back(argv[++i]);
    } else if (i + 1 < argc && option == "--runs") {
      runs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--sessions N] [--reuse] [--dir PATH] [--batch N] [--runs N] [--case TEXT] [--no-size]\n"
                   "       [--writer-pragma TEXT]...\n",
                   argv[0]);
      return 2;
    }
  }
  if (sessions < 1 || batch_size < 1 || runs < 1) return 2;
  std::filesystem::create_directories(dir);
  const auto path = dir / ("sessions-" + std::to_string(sessions) + ".db");
  const auto assets = relais::Assets::load(RELAIS_BENCH_ASSETS_DIR);
  const auto factors = relais::ImpactFactors::load_file(assets.directory / "impact_factors.json");

  bool complete = false;
  if (reuse && std::filesystem::exists(path)) {
    relais::sqlite::Database db(path, relais::sqlite::Database::Mode::read_only);
    auto select = db.prepare("SELECT value FROM meta WHERE key = 'stats_bench_sessions'");
    complete = select.step() && select.column_text(0) == std::to_string(sessions);
  }
  if (complete) {
    note("reusing " + path.string());
  } else {
    for (const auto* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
    note("making " + path.string());
    if (!build_store(path, assets, sessions, batch_size, writer_pragmas)) return 1;
  }
  if (size) report_size(path);
  if (only.empty()) measure_index_write(path);

  struct Case {
    std::string name;
    relais::stats::Filter filter;
  };
  relais::stats::Filter year;
  year.from = relais::Date{2025, 1, 1};
  year.to = relais::Date{2025, 12, 31};
  relais::stats::Filter june = year;
  june.from = relais::Date{2025, 6, 1};
  june.to = relais::Date{2025, 6, 30};

  std::string advisor;
  {
    relais::sqlite::Database db(path, relais::sqlite::Database::Mode::read_only);
    auto select = db.prepare("SELECT mediateur_id FROM stat_sessions GROUP BY mediateur_id ORDER BY count(*) DESC LIMIT 1");
    if (select.step()) advisor = select.column_text(0);
  }
  std::vector<Case> cases{{"one year, no filter", year}, {"one month (2025-06), no filter", june}};
  cases.push_back({"one year, one advisor", year});
  cases.back().filter.mediateur_id = advisor;
  cases.push_back({"one month, one advisor", june});
  cases.back().filter.mediateur_id = advisor;
  cases.push_back({"one year, type collectif", year});
  cases.back().filter.type = "collectif";
  cases.push_back({"one year, theme sante", year});
  cases.back().filter.thematique = "sante";
  cases.push_back({"one year, departement 69", year});
  cases.back().filter.departement = "69";
  cases.push_back({"one year, departement 2A", year});
  cases.back().filter.departement = "2A";

  // The worker's connection: read-only, opened once, kept for the following requests.
  reset_peak_rss();
  const long rss_before = current_rss_kb();
  relais::sqlite::Database db(path, relais::sqlite::Database::Mode::read_only);
  {
    std::ifstream loadavg("/proc/loadavg");
    std::string load;
    std::getline(loadavg, load);
    note("");
    note("load average (1, 5, 15 min; other work sharing the machine): " + load);
  }
  note("stats::compute on a fresh read-only connection, " + std::to_string(runs) +
       " runs each: wall time (ms), and CPU time of the thread (ms):");
  std::printf("%-32s %8s %8s %8s %8s %8s %9s %9s %-10s %s\n", "case", "first", "median", "max", "cpu med", "cpu max",
              "sessions", "people", "path", "digest");
  for (const auto& c : cases) {
    if (c.name.find(only) == std::string::npos) continue;
    std::vector<double> times;
    std::vector<double> cpu;
    relais::stats::Indicators out;
    for (int run = 0; run < runs; ++run) {
      const auto start = Clock::now();
      const auto cpu_start = thread_cpu_ms();
      out = relais::stats::compute(db, c.filter, assets.vocabulary, factors);
      cpu.push_back(thread_cpu_ms() - cpu_start);
      times.push_back(ms_since(start));
    }
    std::printf("%-32s %8.1f %8.1f %8.1f %8.1f %8.1f %9lld %9lld %-10s %016llx\n", c.name.c_str(), times.front(),
                percentile(times, 0.5), percentile(times, 1.0), percentile(cpu, 0.5), percentile(cpu, 1.0),
                static_cast<long long>(out.totals.individual_sessions + out.totals.workshops),
                static_cast<long long>(out.totals.accompagnements), out.used_daily_sums ? "daily sums" : "facts",
                static_cast<unsigned long long>(digest(out)));
    std::fflush(stdout);
  }
  report("peak RSS during the computations (VmHWM after reset)", static_cast<double>(peak_rss_kb()) / 1024, "MiB");
  report("  RSS before opening the connection", static_cast<double>(rss_before) / 1024, "MiB");
  return 0;
}
