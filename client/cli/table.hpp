#pragma once
// Plain-text tables for the terminal, aligned on characters (not bytes) so accents line up.
#include <ostream>
#include <string>
#include <vector>

namespace relais::cli {

// Cells longer than `max_width` characters are cut with "…"; line breaks become " / ".
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows, std::size_t max_width = 40);

}  // namespace relais::cli
