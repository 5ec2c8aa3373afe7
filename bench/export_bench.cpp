// Export benchmark: XLSX export of the activities of a store (libxlsxwriter in constant-memory
// mode), to show the time and that memory does not grow with the number of rows.
//
//   relais_export_bench --records N [--format xlsx|csv|json] [--dir PATH] [--repeat R]
//
// Fills a fresh store with N individual sessions (batches of 1000), then exports them all R
// times (default 1) and prints each export's time, their median, and the process's peak resident
// memory (getrusage ru_maxrss) before and after the exports. Run it once per size: the peak of a
// process never goes down.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "relais/assets.hpp"
#include "relais/exports.hpp"
#include "relais/impact.hpp"
#include "relais/local_export_source.hpp"
#include "relais/local_store.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

// A realistic individual session, as in store_bench.cpp, with two themes and a note.
relais::Session make_session(std::mt19937& random, int i) {
  static const std::vector<std::string> themes{"email", "navigation_sur_internet", "sante", "bureautique",
                                               "securite_numerique", "prendre_en_main_du_materiel"};
  relais::Session s;
  s.type = "individuel";
  const int day_of_year = i % 300;
  s.date = relais::format_date(relais::Date{2026, static_cast<unsigned>(1 + day_of_year / 28),
                                            static_cast<unsigned>(1 + day_of_year % 28)});
  s.duree = 15 * (1 + static_cast<int>(random() % 8));
  s.type_lieu = "domicile";
  s.lieu_commune = "Villeurbanne";
  s.lieu_code_postal = "69100";
  s.lieu_code_insee = "69266";
  s.materiel = {"ordinateur", "telephone"};
  s.thematiques = {themes[random() % themes.size()], "aide_aux_demarches_administratives", "logement"};
  s.precisions_demarche = "Demande d’aide personnalisée au logement";
  s.autonomie = "partiellement_autonome";
  s.beneficiaire = relais::Beneficiaire{};
  s.beneficiaire->genre = (i % 2) ? "feminin" : "masculin";
  s.notes = "Séance " + std::to_string(i) + " : revoir la création du compte la semaine prochaine.";
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int records = 100000;
  int repeat = 1;
  std::string format_name = "xlsx";
  std::filesystem::path dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string option = argv[i];
    if (option == "--records") records = std::atoi(argv[i + 1]);
    if (option == "--format") format_name = argv[i + 1];
    if (option == "--dir") dir = argv[i + 1];
    if (option == "--repeat") repeat = std::max(1, std::atoi(argv[i + 1]));
  }
  const auto format = relais::exports::parse_format(format_name);
  if (!format) return 2;
  if (dir.empty()) dir = std::filesystem::temp_directory_path() / ("relais-export-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto assets = relais::Assets::load(RELAIS_BENCH_ASSETS_DIR);
  const auto factors = relais::ImpactFactors::load_file(std::filesystem::path(RELAIS_BENCH_ASSETS_DIR) / "impact_factors.json");
  std::mt19937 random(42);

  relais::LocalStore store(dir / "bench.db", assets.vocabulary);
  const auto start_fill = Clock::now();
  for (int done = 0; done < records; done += 1000) {
    std::vector<relais::AnyRecord> batch;
    for (int i = 0; i < 1000 && done + i < records; ++i) batch.emplace_back(make_session(random, done + i));
    if (!store.add(std::move(batch)).ok()) return 1;
  }
  std::printf("%-44s %10.0f ms\n", ("fill " + std::to_string(records) + " sessions").c_str(), ms_since(start_fill));
  const double rss_before = peak_rss_mb();

  relais::LocalExportSource source(store.path(), store.vocabulary());
  relais::exports::Options options;
  options.format = *format;
  options.what = relais::exports::What::activities;
  options.info.exported_by = "Bench";
  const auto out = dir / ("activites." + format_name);
  std::vector<double> times;
  relais::exports::Result result;
  for (int run = 0; run < repeat; ++run) {
    const auto start = Clock::now();
    result = relais::exports::export_to_file(source, factors, options, out);
    times.push_back(ms_since(start));
    std::printf("%-44s %10.0f ms\n", ("export " + std::to_string(result.rows) + " activities to " + format_name).c_str(),
                times.back());
  }
  const double rss_after = peak_rss_mb();
  std::sort(times.begin(), times.end());
  if (repeat > 1) std::printf("%-44s %10.0f ms\n", ("median of " + std::to_string(repeat) + " exports").c_str(), times[times.size() / 2]);
  std::printf("%-44s %10.1f MB\n", "file size", static_cast<double>(std::filesystem::file_size(out)) / 1e6);
  std::printf("%-44s %10.1f MB\n", "peak RSS before the export (store filled)", rss_before);
  std::printf("%-44s %10.1f MB\n", "peak RSS after the export", rss_after);
  if (std::getenv("RELAIS_BENCH_KEEP") == nullptr) std::filesystem::remove_all(dir);
  return result.rows == records ? 0 : 1;
}
