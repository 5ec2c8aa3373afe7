// Local store benchmark: what an advisor's laptop does most (save one session), what an import
// or a first sync does (large batches), and what the history screen and exports read.
//
//   relais_store_bench [--records N] [--dir PATH]
//
// Prints one line per measure. The store is created fresh in --dir (default: a temp folder).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "relais/assets.hpp"
#include "relais/csv.hpp"
#include "relais/local_store.hpp"
#include "relais/session_export.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A realistic individual session, varied by `i` so that indexes see spread-out values.
relais::Session make_session(std::mt19937& random, int i) {
  static const std::vector<std::string> themes{"email", "navigation_sur_internet", "sante", "bureautique",
                                               "securite_numerique", "prendre_en_main_du_materiel"};
  relais::Session s;
  s.type = "individuel";
  const int day_of_year = i % 300;
  s.date = relais::format_date(relais::Date{2026, static_cast<unsigned>(1 + day_of_year / 28),
                                            static_cast<unsigned>(1 + day_of_year % 28)});
  s.duree = 15 * (1 + static_cast<int>(random() % 8));
  s.type_lieu = "a_distance";
  s.materiel = {"ordinateur"};
  s.thematiques = {themes[random() % themes.size()]};
  s.autonomie = "partiellement_autonome";
  s.beneficiaire = relais::Beneficiaire{};
  s.beneficiaire->genre = (i % 2) ? "feminin" : "masculin";
  s.notes = "Séance " + std::to_string(i);
  return s;
}

void report(const std::string& what, double value, const std::string& unit) {
  std::printf("%-52s %12.2f %s\n", what.c_str(), value, unit.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int records = 100000;
  std::filesystem::path dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string option = argv[i];
    if (option == "--records") records = std::atoi(argv[i + 1]);
    if (option == "--dir") dir = argv[i + 1];
  }
  if (dir.empty()) dir = std::filesystem::temp_directory_path() / ("relais-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto assets = relais::Assets::load(RELAIS_BENCH_ASSETS_DIR);
  std::mt19937 random(42);

  relais::LocalStore store(dir / "bench.db", assets.vocabulary);

  // 1. Saving one session at a time, as the form does (one transaction and fsync each).
  std::vector<double> latencies;
  for (int i = 0; i < 200; ++i) {
    const auto start = Clock::now();
    const auto result = store.add(relais::AnyRecord{make_session(random, i)});
    latencies.push_back(ms_since(start));
    if (!result.ok()) return 1;
  }
  std::sort(latencies.begin(), latencies.end());
  report("save one session (median, fsync included)", latencies[latencies.size() / 2], "ms");
  report("save one session (95th percentile)", latencies[latencies.size() * 95 / 100], "ms");

  // 2. Large batches (an import, or the pull of a first sync).
  const int batch_size = 1000;
  const auto start_batches = Clock::now();
  for (int done = 0; done < records; done += batch_size) {
    std::vector<relais::AnyRecord> batch;
    for (int i = 0; i < batch_size && done + i < records; ++i) batch.emplace_back(make_session(random, done + i));
    if (!store.add(std::move(batch)).ok()) return 1;
  }
  const double batch_ms = ms_since(start_batches);
  report("add " + std::to_string(records) + " sessions in batches of 1000", batch_ms, "ms");
  report("  rate", records / (batch_ms / 1000.0), "records/s");

  // 3. Reading: the first page of the history, a page deep down, and a full export.
  auto start = Clock::now();
  relais::ListQuery first_page;
  first_page.limit = 50;
  const auto page = store.list(first_page);
  report("list newest 50 sessions", ms_since(start), "ms");

  start = Clock::now();
  relais::ListQuery deep_page;
  deep_page.limit = 50;
  deep_page.offset = records / 2;
  store.list(deep_page);
  report("list 50 sessions at offset " + std::to_string(records / 2), ms_since(start), "ms");

  start = Clock::now();
  {
    std::ofstream out(dir / "export.csv", std::ios::binary);
    relais::CsvWriter csv(out);
    csv.write_bom();
    csv.write_row(relais::activity_export_header(false));
    store.for_each_session(std::nullopt, std::nullopt, [&](const relais::ExportedSession& row) {
      csv.write_row(relais::activity_export_row(row, assets.vocabulary, false));
    });
  }
  report("export all sessions to CSV", ms_since(start), "ms");
  report("store size", static_cast<double>(std::filesystem::file_size(dir / "bench.db")) / 1e6, "MB");
  report("journal entries", static_cast<double>(store.journal_size()), "");

  if (std::getenv("RELAIS_BENCH_KEEP") == nullptr) std::filesystem::remove_all(dir);
  return page.size() == 50 ? 0 : 1;
}
