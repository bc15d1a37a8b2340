// The text of kvbench's checkpoints (harness/divergence_checkpoint.h, harness/niah_checkpoint.h):
// lines of space-separated fields, doubles as hexadecimal floats (%a) so that they read back to
// the same bits, every field checked on the way in with its line number in the error.
#ifndef KVBENCH_HARNESS_CHECKPOINT_TEXT_H_
#define KVBENCH_HARNESS_CHECKPOINT_TEXT_H_

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "base/status.h"

namespace kvbench {

// One line's fields, read in order.
class CheckpointLine {
 public:
  CheckpointLine(absl::string_view line, int number)
      : fields_(absl::StrSplit(line, ' ')), number_(number) {}

  absl::Status Expect(absl::string_view word) {
    if (next_ >= fields_.size() || fields_[next_] != word) {
      return Error(absl::StrCat("expected '", word, "'"));
    }
    ++next_;
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Word() {
    if (next_ >= fields_.size()) return Error("missing field");
    return std::string(fields_[next_++]);
  }
  // The fields left, joined again (a message that may hold spaces, written last).
  std::string Rest() {
    std::string rest = absl::StrJoin(fields_.begin() + next_, fields_.end(), " ");
    next_ = fields_.size();
    return rest;
  }
  template <typename Int>
  absl::StatusOr<Int> Integer() {
    ASSIGN_OR_RETURN(const std::string w, Word());
    Int v;
    if (!absl::SimpleAtoi(w, &v)) return Error(absl::StrCat("'", w, "' is not an integer"));
    return v;
  }
  absl::StatusOr<double> Double() {
    ASSIGN_OR_RETURN(const std::string w, Word());
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(w.c_str(), &end);  // reads %a exactly
    if (w.empty() || *end != '\0' || errno == ERANGE) {
      return Error(absl::StrCat("'", w, "' is not a number"));
    }
    return v;
  }
  absl::Status End() const {
    return next_ == fields_.size() ? absl::OkStatus() : Error("unexpected field");
  }
  absl::Status Error(absl::string_view what) const {
    return absl::DataLossError(absl::StrCat("line ", number_, ": ", what));
  }

 private:
  std::vector<absl::string_view> fields_;
  size_t next_ = 0;
  int number_;
};

// A checkpoint's lines, handed out one at a time.
class CheckpointLines {
 public:
  explicit CheckpointLines(absl::string_view text) : lines_(absl::StrSplit(text, '\n')) {}

  absl::StatusOr<CheckpointLine> Next() {
    if (next_ >= lines_.size()) return absl::DataLossError("truncated: no 'end' line");
    ++next_;
    return CheckpointLine(lines_[next_ - 1], static_cast<int>(next_));
  }
  size_t left() const { return lines_.size() - next_; }

  // The two lines every checkpoint starts with, `magic` and "run <key>": the run key.
  absl::StatusOr<std::string> ReadRunKey(absl::string_view magic) {
    ASSIGN_OR_RETURN(CheckpointLine first, Next());
    if (first.Rest() != magic) return first.Error(absl::StrCat("not a '", magic, "' file"));
    ASSIGN_OR_RETURN(CheckpointLine run, Next());
    RETURN_IF_ERROR(run.Expect("run"));
    ASSIGN_OR_RETURN(std::string key, run.Word());
    RETURN_IF_ERROR(run.End());
    return key;
  }
  // The "end" line every checkpoint ends with (a torn file has none).
  absl::Status ReadEnd() {
    ASSIGN_OR_RETURN(CheckpointLine end, Next());
    RETURN_IF_ERROR(end.Expect("end"));
    return end.End();
  }

 private:
  std::vector<absl::string_view> lines_;
  size_t next_ = 0;
};

}  // namespace kvbench

#endif  // KVBENCH_HARNESS_CHECKPOINT_TEXT_H_
