#include "metrics/text_writer.h"

#include <charconv>
#include <string>
#include <vector>

namespace ping_exporter::metrics {
namespace {

using detail::OutBuffer;

// `name{labels,extra} ` — the value follows.
void Open(OutBuffer& b, std::string_view name, std::string_view labels,
          std::string_view extra = {}) {
  b.Put(name);
  b.Put(std::string_view("{"));
  b.Put(labels);
  if (!extra.empty()) {
    b.Put(std::string_view(","));
    b.Put(extra);
  }
  b.Put("} ");
  // The value and '\n' follow unchecked: labels of about kLineRoom bytes once put the '\n' one
  // byte past the buffer.
  b.Room(OutBuffer::kValueRoom);
}

void PutValue(OutBuffer& b, const detail::RowValue& v) {
  if (v.integer) {
    b.PutUint(v.u);
  } else {
    b.PutDouble(v.d);
  }
  b.Put('\n');
}

std::string LabelPair(std::string_view name, std::string_view value) {
  std::string out;
  detail::AppendLabelPair(&out, name, value);
  return out;
}

/// The `le` label texts of one bucket layout, rendered once and reused while
/// consecutive rows share their options (a group's targets do).
class BucketLabels {
 public:
  const std::vector<std::string>& For(const SeriesOptions& options) {
    if (&options == options_) return le_;
    options_ = &options;
    le_.clear();
    if (options.classic()) {
      for (double bound : options.rtt_buckets) {
        char num[32];
        auto res = std::to_chars(num, num + sizeof num, bound);
        le_.push_back(LabelPair("le", std::string_view(num, static_cast<size_t>(res.ptr - num))));
      }
    }
    le_.push_back(LabelPair("le", "+Inf"));
    return le_;
  }

 private:
  const SeriesOptions* options_ = nullptr;
  std::vector<std::string> le_;
};

// Encodes the walk (target_rows.h) as text.
class TextVisitor {
 public:
  TextVisitor(OutBuffer& b, Format format) : b_(b), format_(format) {}

  template <typename Samples>
  void Visit(const Family& f, std::span<const std::string_view> label_values, Samples&& samples) {
    std::string header;
    detail::AppendTextHeader(&header, f, format_);
    b_.Put(header);
    if (f.type == MetricType::kHistogram) {
      Histogram(f, samples);
      return;
    }
    std::vector<std::string> extra;
    for (std::string_view v : label_values) extra.push_back(LabelPair(f.labels[0], v));
    samples([&](const TargetRow& r, size_t label, const detail::RowValue& v) {
      Open(b_, f.name, r.info->label_text, extra.empty() ? std::string_view() : extra[label]);
      PutValue(b_, v);
    });
  }

 private:
  // Classic buckets as they are kept; a native-only histogram has just +Inf here (the text
  // formats cannot carry native buckets), so _sum and _count still make averages.
  template <typename Samples>
  void Histogram(const Family& f, Samples&& samples) {
    const std::string bucket = std::string(f.name) + "_bucket";
    const std::string sum = std::string(f.name) + "_sum";
    const std::string count = std::string(f.name) + "_count";
    BucketLabels labels;
    samples([&](const TargetRow& r, size_t, const detail::RowValue&) {
      const std::string& l = r.info->label_text;
      const std::vector<std::string>& le = labels.For(*r.options);
      for (size_t i = 0; i < le.size() && i < r.snap.buckets.size(); ++i) {
        Open(b_, bucket, l, le[i]);
        PutValue(b_, detail::Int(r.snap.buckets[i]));
      }
      Open(b_, sum, l);
      PutValue(b_, detail::Real(r.snap.rtt_sum));
      Open(b_, count, l);
      PutValue(b_, detail::Int(r.snap.rtt_count));
    });
  }

  OutBuffer& b_;
  Format format_;
};

}  // namespace

namespace detail {

void AppendTextHeader(std::string* out, const Family& f, Format format) {
  const bool om = format == Format::kOpenMetrics;
  const std::string_view name = om ? f.open_metrics_name() : f.name;
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += f.help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += om ? OpenMetricsTypeName(f.type) : TextTypeName(f.type);
  *out += '\n';
  if (om && !f.unit.empty()) {
    *out += "# UNIT ";
    *out += name;
    *out += ' ';
    *out += f.unit;
    *out += '\n';
  }
}

void AppendLabelPair(std::string* out, std::string_view name, std::string_view value) {
  *out += name;
  *out += "=\"";
  *out += EscapeLabelValue(value);
  *out += '"';
}

void AppendTextValue(std::string* out, double v) {
  char buf[32];
  out->append(buf, EncodeTextValue(buf, buf + sizeof buf, v));
}

}  // namespace detail

void WriteTargetRowsText(std::span<const TargetRow> rows, RowFamilies which, Format format,
                         const Sink& sink, std::optional<Profile> headers) {
  OutBuffer b(sink);
  TextVisitor visitor(b, format);
  detail::WalkTargetFamilies(rows, which, visitor, headers);
}

}  // namespace ping_exporter::metrics
