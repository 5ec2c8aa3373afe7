// History screen benchmark: the count and pages of the history query (relais/history.hpp) on a
// large store, without a filter and with the filters that make SQLite work hardest, and how long
// HistoryReader takes to deliver a window to the UI.
//
//   relais_history_bench [--records N] [--dir PATH] [--with-index]
//
// The store is made in --dir (default: a temp folder) unless --dir already holds one, which is
// reused. --with-index adds the index proposed in docs/benchmarks.md to that store, to compare.
// Each figure is the median of 5 runs.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "relais/assets.hpp"
#include "relais/history.hpp"
#include "relais/local_store.hpp"
#include "relais/uuid.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Sessions as an advisor makes them: mostly individual, some workshops, spread over a year, a
// note on most, one or two themes.
relais::Session make_session(std::mt19937& random, int i) {
  static const std::vector<std::string> themes{"email", "navigation_sur_internet", "sante", "bureautique",
                                               "securite_numerique", "prendre_en_main_du_materiel"};
  static const std::vector<std::string> communes{"Villeurbanne", "Lyon", "Vénissieux", "Bron", "Écully"};
  relais::Session s;
  const bool workshop = i % 10 == 0;
  s.type = workshop ? "collectif" : "individuel";
  const int day_of_year = i % 300;
  s.date = relais::format_date(relais::Date{2025, static_cast<unsigned>(1 + day_of_year / 28),
                                            static_cast<unsigned>(1 + day_of_year % 28)});
  s.duree = 15 * (1 + static_cast<int>(random() % 8));
  s.type_lieu = "domicile";
  s.lieu_commune = communes[random() % communes.size()];
  s.lieu_code_postal = "69100";
  s.lieu_code_insee = "69266";
  s.materiel = {"ordinateur"};
  s.thematiques = {themes[random() % themes.size()]};
  if (random() % 3 == 0) s.thematiques.push_back(themes[random() % themes.size()]);
  std::sort(s.thematiques.begin(), s.thematiques.end());
  s.thematiques.erase(std::unique(s.thematiques.begin(), s.thematiques.end()), s.thematiques.end());
  if (workshop) {
    s.titre_atelier = "Atelier n° " + std::to_string(i);
    s.participants = relais::Participants{};
    s.participants->total = 6;
  } else {
    s.autonomie = "partiellement_autonome";
    s.beneficiaire = relais::Beneficiaire{};
  }
  if (i % 4 != 0) s.notes = "Séance " + std::to_string(i) + " : revoir la messagerie la semaine prochaine.";
  return s;
}

double median_ms(int runs, const std::function<void()>& work) {
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    work();
    times.push_back(ms_since(start));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void report(const std::string& what, double value, const std::string& unit) {
  std::printf("%-60s %10.2f %s\n", what.c_str(), value, unit.c_str());
  std::fflush(stdout);
}

// How long HistoryReader takes from request() to on_ready with the window's rows.
double reader_latency_ms(relais::HistoryReader& reader, std::mutex& mutex, std::condition_variable& ready,
                         const relais::HistoryFilter& filter, std::int64_t first) {
  const auto start = Clock::now();
  reader.request(filter, first, 40);
  std::unique_lock lock(mutex);
  ready.wait(lock, [&] {
    const auto snapshot = reader.snapshot();
    return snapshot.filter == filter && !snapshot.loading && snapshot.row(first) != nullptr;
  });
  return ms_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  int records = 100000;
  std::filesystem::path dir;
  bool with_index = false;
  for (int i = 1; i < argc; ++i) {
    const std::string option = argv[i];
    if (option == "--with-index") with_index = true;
    if (i + 1 < argc && option == "--records") records = std::atoi(argv[++i]);
    else if (i + 1 < argc && option == "--dir") dir = argv[++i];
  }
  if (dir.empty()) {
    dir = std::filesystem::temp_directory_path() / ("relais-history-bench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
  }
  std::filesystem::create_directories(dir);
  const auto path = dir / "history.db";
  const auto assets = relais::Assets::load(RELAIS_BENCH_ASSETS_DIR);

  relais::LocalStore store(path, assets.vocabulary);
  if (store.count(relais::RecordKind::session) == 0) {
    std::mt19937 random(42);
    const auto start = Clock::now();
    for (int done = 0; done < records; done += 1000) {
      std::vector<relais::AnyRecord> batch;
      for (int i = done; i < std::min(records, done + 1000); ++i) batch.emplace_back(make_session(random, i));
      if (!store.add(std::move(batch)).ok()) return 1;
    }
    // And 1,000 collection lots of two devices each, so that lots and their devices are searched too.
    for (int i = 0; i < 1000; ++i) {
      relais::Lot lot;
      lot.id = relais::make_uuid_v7();
      lot.date = relais::format_date(relais::Date{2025, static_cast<unsigned>(1 + i % 10), static_cast<unsigned>(1 + i % 28)});
      lot.type_donateur = "entreprise";
      lot.nom_donateur = "Donateur " + std::to_string(i);
      std::vector<relais::AnyRecord> batch{lot};
      for (int k = 0; k < 2; ++k) {
        relais::Device device;
        device.lot_id = lot.id;
        device.type = "ordinateur_portable";
        device.marque = "Lenovo";
        device.modele = "ThinkPad T" + std::to_string(400 + i % 100);
        device.numero_serie = "PF-" + std::to_string(100000 + 2 * i + k);
        batch.emplace_back(device);
      }
      if (!store.add(std::move(batch)).ok()) return 1;
    }
    // The first half has been pushed: the sync state then takes both branches.
    const auto journal = store.journal_size();
    store.set_meta("sync_pushed_seq", std::to_string(journal / 2));
    report("made a store of " + std::to_string(records) + " sessions and 1000 lots", ms_since(start), "ms");
  }
  if (with_index) {
    store.database().exec(
        "CREATE INDEX IF NOT EXISTS sessions_history ON sessions (date DESC, created_at DESC, id DESC)"
        " WHERE deleted_at IS NULL;"
        "CREATE INDEX IF NOT EXISTS lots_history ON lots (date DESC, created_at DESC, id DESC)"
        " WHERE deleted_at IS NULL;"
        "ANALYZE;");
    report("with the proposed history indexes", 0, "");
  }

  // The reader's way: its own read-only connection.
  relais::sqlite::Database db(path, relais::sqlite::Database::Mode::read_only);
  const auto total = relais::history_count(db, {});

  struct Case {
    std::string name;
    relais::HistoryFilter filter;
  };
  std::vector<Case> cases{{"no filter", {}}};
  cases.push_back({"theme 'sante'", {}});
  cases.back().filter.theme = "sante";
  cases.push_back({"search 'messagerie'", {}});
  cases.back().filter.search = "messagerie";
  cases.push_back({"search 'venissieux'", {}});
  cases.back().filter.search = "venissieux";
  cases.push_back({"sync state 'pending'", {}});
  cases.back().filter.sync_state = "pending";
  cases.push_back({"one month (2025-06)", {}});
  cases.back().filter.from = relais::Date{2025, 6, 1};
  cases.back().filter.to = relais::Date{2025, 6, 30};

  for (const auto& c : cases) {
    std::int64_t count = 0;
    report(c.name + ": count", median_ms(5, [&] { count = relais::history_count(db, c.filter); }), "ms");
    report(c.name + ":   (matching records)", static_cast<double>(count), "");
    const std::vector<std::int64_t> offsets{0, count / 2, std::max<std::int64_t>(0, count - 100)};
    for (const auto offset : offsets) {
      report(c.name + ": page of 200 at offset " + std::to_string(offset),
             median_ms(5, [&] { relais::history_page(db, c.filter, offset, 200); }), "ms");
    }
    // The reader's way: the ordered ids once, then any page by id.
    std::vector<std::string> ids;
    report(c.name + ": ordered ids", median_ms(5, [&] { ids = relais::history_ids(db, c.filter); }), "ms");
    for (const auto offset : offsets) {
      const auto begin = ids.begin() + std::min<std::ptrdiff_t>(offset, static_cast<std::ptrdiff_t>(ids.size()));
      const std::vector<std::string> slice(begin, begin + std::min<std::ptrdiff_t>(200, ids.end() - begin));
      report(c.name + ": rows of 200 ids from " + std::to_string(offset),
             median_ms(5, [&] { relais::history_rows(db, slice); }), "ms");
    }
    // The same by key (rowid and kind, 8 bytes a record), as HistoryReader keeps them.
    std::vector<relais::HistoryKey> keys;
    report(c.name + ": ordered keys", median_ms(5, [&] { keys = relais::history_keys(db, c.filter); }), "ms");
    for (const auto offset : offsets) {
      const auto begin = keys.begin() + std::min<std::ptrdiff_t>(offset, static_cast<std::ptrdiff_t>(keys.size()));
      const std::vector<relais::HistoryKey> slice(begin, begin + std::min<std::ptrdiff_t>(200, keys.end() - begin));
      report(c.name + ": rows of 200 keys from " + std::to_string(offset),
             median_ms(5, [&] { relais::history_rows_by_key(db, slice); }), "ms");
    }
  }

  std::mutex mutex;
  std::condition_variable ready;
  relais::HistoryReader reader(path, [&] {
    std::lock_guard lock(mutex);
    ready.notify_all();
  });
  relais::HistoryFilter none;
  report("reader: first window (ids + first page)", reader_latency_ms(reader, mutex, ready, none, 0), "ms");
  report("reader: jump to row " + std::to_string(total / 2), reader_latency_ms(reader, mutex, ready, none, total / 2),
         "ms");
  report("reader: jump to the last rows", reader_latency_ms(reader, mutex, ready, none, std::max<std::int64_t>(0, total - 40)),
         "ms");
  relais::HistoryFilter search;
  search.search = "messagerie";
  report("reader: new search, first window", reader_latency_ms(reader, mutex, ready, search, 0), "ms");
  return 0;
}
