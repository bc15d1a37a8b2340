// A store (or policy) with parameters written on one line, as the commands take them:
// "q8_0", "kivi(bits=4,group=32)", or "kivi:bits=4,group=32". The same spelling CacheSpec::Label
// prints, so a label copied from a report can be pasted back.
#ifndef KVBENCH_POLICIES_SPEC_TEXT_H_
#define KVBENCH_POLICIES_SPEC_TEXT_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "base/params.h"

namespace kvbench {

// Name and parameters. InvalidArgument naming the text for a missing ')' or a parameter without
// '='. Names and parameters are not checked against the registries here.
absl::StatusOr<std::pair<std::string, ParamMap>> ParseNamedParams(const std::string& text);

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_SPEC_TEXT_H_
