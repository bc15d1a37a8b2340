// One spelling of a policy or store with parameters, wherever kvbench takes one (flags, YAML store
// names, simulate's sweeps) and whatever form kvbench printed it in:
//
//   q8_0                              a name
//   kivi(bits=4,residual=32)          CacheSpec::Label, the summary table, `kvbench policies`
//   kivi(bits=4;residual=32)          the CSV's k_store / v_store / params columns (',' is the
//                                     CSV's separator there)
//   kivi:bits=4,residual=32           simulate's sweep form
//   sinks(budget=16) k=q8_0 v=f32     a whole cache, as CacheSpec::Label prints it
//
// Inside the parameters ',' and ';' both separate; a list of specs ("f16;kivi(bits=4;group=32)")
// is split only outside parentheses.
#ifndef KVBENCH_POLICIES_SPEC_TEXT_H_
#define KVBENCH_POLICIES_SPEC_TEXT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/params.h"
#include "policies/registry.h"

namespace kvbench {

// A spec split into its name and parameter items as written: "k=v", or for a sweep a bare value
// that continues the previous parameter's list ("budget=16,32").
struct SpecParts {
  std::string name;
  std::vector<std::string> items;
};

// InvalidArgument naming the text for a missing ')', text after it, or no name.
absl::StatusOr<SpecParts> SplitSpec(absl::string_view text);

// Name and parameters of one spec. InvalidArgument naming the text for a malformed spec, a
// parameter without '=' or one given twice. Names and parameters are not checked against the
// registries here.
absl::StatusOr<std::pair<std::string, ParamMap>> ParseNamedParams(const std::string& text);

// Splits at `separator` outside parentheses, trimming blanks and dropping empty parts.
std::vector<std::string> SplitSpecList(absl::string_view text, char separator = ';');

// The policy text of a cache spec and a CacheSpec holding its stores (policy left unset):
// "sinks(budget=16) k=q8_0" -> ("sinks(budget=16)", k=q8_0 v=`v_store`).
absl::StatusOr<std::pair<std::string, CacheSpec>> SplitCacheSpec(absl::string_view text,
                                                                 const std::string& k_store,
                                                                 const std::string& v_store);

// A whole cache: a policy spec optionally followed by " k=<store spec>" and " v=<store spec>"
// (each defaulting to the given stores), e.g. what CacheSpec::Label prints. Not checked against
// the registries.
absl::StatusOr<CacheSpec> ParseCacheSpec(absl::string_view text, const std::string& k_store = "f32",
                                         const std::string& v_store = "f32");

}  // namespace kvbench

#endif  // KVBENCH_POLICIES_SPEC_TEXT_H_
