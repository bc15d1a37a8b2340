#include "harness/niah_checkpoint.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "base/status.h"
#include "formats/read_file.h"
#include "harness/checkpoint_text.h"

namespace kvbench {
namespace {
constexpr char kMagic[] = "kvbench-niah-checkpoint 1";
}  // namespace

std::string NiahCheckpointPath(const std::string& csv, const std::string& run_key) {
  return absl::StrCat(csv, ".", run_key.substr(0, 16), ".niah.partial");
}

std::string FormatNiahCheckpoint(const NiahCheckpoint& c) {
  std::string out = absl::StrCat(kMagic, "\nrun ", c.run_key, "\ncell ", c.cell, " cases ",
                                 c.cases_done, " caches ", c.tallies.size(), "\n");
  for (size_t k = 0; k < c.tallies.size(); ++k) {
    const NiahTally& t = c.tallies[k];
    // The error's message last: it may hold spaces (never a newline: replaced).
    absl::StrAppendFormat(&out, "cache %s %d %d %a %a %a %a %a %a %a %a %d %s\n", c.keys[k], t.n,
                          t.correct, t.context_tokens, t.kv_bytes, t.kv_payload, t.kv_index,
                          t.evicted_tokens, t.prefill_ms, t.question_ms, t.answer_ms,
                          static_cast<int>(t.error.code()),
                          absl::StrReplaceAll(t.error.message(), {{"\n", " "}}));
  }
  absl::StrAppend(&out, "end\n");
  return out;
}

absl::StatusOr<NiahCheckpoint> ParseNiahCheckpoint(absl::string_view text) {
  CheckpointLines lines(text);
  NiahCheckpoint c;
  ASSIGN_OR_RETURN(c.run_key, lines.ReadRunKey(kMagic));
  ASSIGN_OR_RETURN(CheckpointLine header, lines.Next());
  RETURN_IF_ERROR(header.Expect("cell"));
  ASSIGN_OR_RETURN(c.cell, header.Integer<int>());
  RETURN_IF_ERROR(header.Expect("cases"));
  ASSIGN_OR_RETURN(c.cases_done, header.Integer<int>());
  RETURN_IF_ERROR(header.Expect("caches"));
  ASSIGN_OR_RETURN(const int caches, header.Integer<int>());
  RETURN_IF_ERROR(header.End());
  if (c.cell < 0 || c.cases_done < 0 || caches < 0 || static_cast<size_t>(caches) > lines.left()) {
    return header.Error("counts out of range");
  }
  for (int k = 0; k < caches; ++k) {
    ASSIGN_OR_RETURN(CheckpointLine line, lines.Next());
    RETURN_IF_ERROR(line.Expect("cache"));
    ASSIGN_OR_RETURN(std::string key, line.Word());
    NiahTally t;
    ASSIGN_OR_RETURN(t.n, line.Integer<int>());
    ASSIGN_OR_RETURN(t.correct, line.Integer<int>());
    for (double* field : {&t.context_tokens, &t.kv_bytes, &t.kv_payload, &t.kv_index,
                          &t.evicted_tokens, &t.prefill_ms, &t.question_ms, &t.answer_ms}) {
      ASSIGN_OR_RETURN(*field, line.Double());
    }
    ASSIGN_OR_RETURN(const int code, line.Integer<int>());
    if (code < 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
      return line.Error(absl::StrCat("status code ", code));
    }
    t.error = absl::Status(static_cast<absl::StatusCode>(code), line.Rest());
    c.keys.push_back(std::move(key));
    c.tallies.push_back(std::move(t));
  }
  RETURN_IF_ERROR(lines.ReadEnd());
  return c;
}

std::optional<NiahCheckpoint> ReadNiahCheckpoint(const std::string& path,
                                                 const std::string& run_key, int cell,
                                                 const std::vector<std::string>& keys, FILE* log) {
  absl::StatusOr<std::string> text = ReadFile(path, "needle checkpoint");
  if (!text.ok() && absl::IsNotFound(text.status())) return std::nullopt;
  absl::StatusOr<NiahCheckpoint> c =
      text.ok() ? ParseNiahCheckpoint(*text) : absl::StatusOr<NiahCheckpoint>(text.status());
  if (c.ok() && c->run_key == run_key && c->cell == cell && c->keys == keys) return *std::move(c);
  // Another cell's checkpoint is the normal case after a cell finished and the next one began
  // before any of its cases was done: only a checkpoint that fits nothing is worth a note.
  if (log != nullptr && (!c.ok() || c->run_key != run_key)) {
    std::fprintf(log, "note: ignoring checkpoint %s: %s\n", path.c_str(),
                 c.ok() ? "written by another run" : std::string(c.status().message()).c_str());
  }
  return std::nullopt;
}

}  // namespace kvbench
