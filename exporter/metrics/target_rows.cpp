#include "metrics/target_rows.h"

namespace ping_exporter::metrics {

CollectedRows CollectRows(const ResultStore& store) {
  CollectedRows out{store.Current(), {}, std::nullopt};
  out.rows.reserve(out.targets->size());
  for (const TargetEntry& entry : *out.targets) {
    TargetRow row{entry.info.get(), entry.stats->options(), {}};
    const Profile profile = row.options ? row.options->profile : Profile::kFull;
    if (!out.widest || *out.widest < profile) out.widest = profile;
    entry.stats->Read(&row.snap);
    if (row.snap.has_round) out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace ping_exporter::metrics
