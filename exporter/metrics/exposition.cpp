#include "metrics/exposition.h"

#include <vector>

#include "metrics/proto_wire.h"
#include "metrics/proto_writer.h"
#include "metrics/target_rows.h"
#include "metrics/text_writer.h"

namespace ping_exporter::metrics {

void WriteTargetFamilies(const ResultStore& store, Format format, const Sink& sink) {
  const CollectedRows collected = CollectRows(store);
  if (format == Format::kProtobuf) {
    WriteTargetRowsProto(collected.rows, RowFamilies::kAll, sink);
  } else {
    WriteTargetRowsText(collected.rows, RowFamilies::kAll, format, sink, collected.widest);
  }
}

void FamilyWriter::Begin(const Family& family) {
  EndFamily();
  family_ = &family;
  if (format_ != Format::kProtobuf) detail::AppendTextHeader(&out_, family, format_);
}

void FamilyWriter::Sample(std::span<const std::string_view> label_values, double value) {
  const Family& f = *family_;
  if (format_ == Format::kProtobuf) {
    std::string metric;
    size_t i = 0;
    for (std::string_view v : label_values) wire::AppendLabel(&metric, f.labels[i++], v);
    wire::AppendValue(&metric, detail::ProtoValueField(f.type), value);
    wire::AppendBytesField(&metrics_, wire::field::kFamilyMetric, metric);
    return;
  }
  out_ += f.name;
  if (!label_values.empty()) {
    out_ += '{';
    size_t i = 0;
    for (std::string_view v : label_values) {
      if (i > 0) out_ += ',';
      detail::AppendLabelPair(&out_, f.labels[i++], v);
    }
    out_ += '}';
  }
  out_ += ' ';
  detail::AppendTextValue(&out_, value);
  out_ += '\n';
}

void FamilyWriter::EndFamily() {
  if (format_ != Format::kProtobuf || family_ == nullptr || metrics_.empty()) return;
  std::string message;
  detail::AppendProtoFamilyHeader(&message, *family_);
  message += metrics_;
  wire::AppendVarint(&out_, message.size());
  out_ += message;
  metrics_.clear();
}

std::string FamilyWriter::Finish() {
  EndFamily();
  family_ = nullptr;
  return std::move(out_);
}

}  // namespace ping_exporter::metrics
