// What the report shows for each kind of results file: its plots (as specs, report/plots.h), their
// captions, and its tables. Each plot appears only when the file has the data for it:
//
//   divergence  KL against KV bytes per policy with the Pareto front; KL and top-1 agreement
//   against
//               budget; decode step time against context length (when several contexts); a table
//               with standard errors.
//   niah        accuracy heat map (length x depth) per label; accuracy pooled over lengths and
//               depths (Wilson 95% interval) against budget and against KV bytes; a table.
//   prefix      token hit rate and time to first token against the budget per strategy/eviction.
// Every kind: the rows with an error (listed, never plotted) and the run metadata.
//
// Repetitions of one case are averaged (divergence and memory repeat identical numbers; latency
// differs); NIAH counts are summed.
#ifndef KVBENCH_REPORT_SECTIONS_H_
#define KVBENCH_REPORT_SECTIONS_H_

#include <string>
#include <variant>
#include <vector>

#include "report/plots.h"
#include "report/results.h"

namespace kvbench {

struct Figure {
  std::variant<LineChart, HeatMap> chart;
  std::string caption;  // HTML: how to read it
  bool small = false;   // drawn two to a row (heat maps)
};

struct Section {
  std::string id;     // HTML anchor
  std::string title;  // text
  std::string intro;  // HTML
  std::vector<Figure> figures;
  std::vector<std::string> tables;  // HTML, after the figures
};

// The sections of one results file, in page order.
std::vector<Section> SectionsFor(const ResultsFile& file, int file_index);

// The short name of a cache in legends: the policy, plus its stores when they are not both f32
// ("h2o", "full kv=q4_0", "full k=q8_0 v=q4_0").
std::string SeriesName(const ResultsFile& file, size_t row);

// Gives every series label of the page (line-chart series but fronts, heat maps' `series`) one
// style index, its rank in the sorted set of all labels, so that a cache has one colour and marker
// in every plot of every file.
void AssignSeriesStyles(std::vector<Section>* sections);

}  // namespace kvbench

#endif  // KVBENCH_REPORT_SECTIONS_H_
