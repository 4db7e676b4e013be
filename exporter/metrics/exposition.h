#pragma once
// A scrape in any of the three formats: the per-target families straight from
// the store, and a writer for the small families (the exporter's own, /probe's
// counters, the process collector), all named by the family table.

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "metrics/families.h"
#include "metrics/format.h"
#include "metrics/out_buffer.h"
#include "metrics/store.h"

namespace ping_exporter::metrics {

/// Every per-target family of the store's current targets, in `format`, each
/// target with its group's profile and histograms. Targets without a completed
/// round yet are left out. Thread-safe (reads only).
void WriteTargetFamilies(const ResultStore& store, Format format, const Sink& sink);

/// Collects a few small families in one format into a string. Not thread-safe:
/// one per scrape. Families must not be histograms.
class FamilyWriter {
 public:
  explicit FamilyWriter(Format format) : format_(format) {}

  /// Starts `family`: the samples until the next Begin() are its.
  void Begin(const Family& family);
  /// One sample of the current family, its label values in the order of family.labels.
  void Sample(std::span<const std::string_view> label_values, double value);
  void Sample(std::initializer_list<std::string_view> label_values, double value) {
    Sample(std::span<const std::string_view>(label_values.begin(), label_values.size()), value);
  }
  /// Begin(family) and one sample without labels.
  void Add(const Family& family, double value) {
    Begin(family);
    Sample({}, value);
  }
  /// Everything written, ending the last family. Call once, last.
  std::string Finish();

 private:
  void EndFamily();

  Format format_;
  const Family* family_ = nullptr;
  std::string out_;
  std::string metrics_;  // protobuf: the current family's Metric fields
};

}  // namespace ping_exporter::metrics
