// kvbench's version, in one place: recorded in every run's metadata and part of every case's
// config_hash, so rows computed by a kvbench whose numbers may differ are recomputed on resume
// instead of reused. Raise it with any change that alters a result (a kernel, a policy's choice of
// positions, a metric's definition); a change that only adds features may keep it.
#ifndef KVBENCH_BASE_VERSION_H_
#define KVBENCH_BASE_VERSION_H_

namespace kvbench {

inline constexpr char kKvbenchVersion[] = "0.19.0";

}  // namespace kvbench

#endif  // KVBENCH_BASE_VERSION_H_
