//! The metrics port: what the deployment counts and times, by a closed list of names
//! ([`Metric`]) with a few declared dimensions each. Use cases make one call
//! (`platform.metrics.count(…)`); a host decides where it goes: CloudWatch Embedded Metric Format
//! lines on Lambda ([`Emf`]: a log line, no API call, no added latency), a Prometheus text
//! endpoint on the local server ([`Prometheus`]), nowhere by default.
//!
//! Dimensions are kept few and bounded — a function, an endpoint group, an outcome, a reason
//! slug — never a studio, user or booking id: on CloudWatch every combination is a metric that
//! costs money every month (docs/operations.md).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// The namespace of every metric on CloudWatch.
pub const NAMESPACE: &str = "Atelier";

/// How a metric is aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only ever added to: a Prometheus counter; on CloudWatch, read its Sum.
    Counter,
    /// A value per event (a latency, a size): a Prometheus histogram; on CloudWatch, read its
    /// percentiles, and its SampleCount for how many events.
    Distribution,
}

/// What a value measures, as CloudWatch names units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Things.
    Count,
    /// Time.
    Milliseconds,
}

impl Unit {
    /// CloudWatch's name for the unit.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

macro_rules! metrics {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $kind:ident, $unit:ident, [$($dim:literal),*], [$($detail:literal),*];)*) => {
        /// Every metric Atelier emits: its name is the same on CloudWatch and in `/metrics`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Metric {
            $($(#[$doc])* $variant,)*
        }

        impl Metric {
            /// Every metric, for the docs test and the dashboard.
            pub const ALL: &'static [Metric] = &[$(Metric::$variant,)*];

            /// The metric's name.
            pub fn name(self) -> &'static str {
                match self { $(Metric::$variant => $name,)* }
            }

            /// How it aggregates.
            pub fn kind(self) -> Kind {
                match self { $(Metric::$variant => Kind::$kind,)* }
            }

            /// Its unit.
            pub fn unit(self) -> Unit {
                match self { $(Metric::$variant => Unit::$unit,)* }
            }

            /// The dimensions it is split by (besides the function, which every sink adds).
            pub fn dimensions(self) -> &'static [&'static str] {
                match self { $(Metric::$variant => &[$($dim),*],)* }
            }

            /// Details that are labels in Prometheus but only searchable properties in EMF
            /// (too many values to be CloudWatch dimensions: a route template).
            pub fn details(self) -> &'static [&'static str] {
                match self { $(Metric::$variant => &[$($detail),*],)* }
            }
        }
    };
}

metrics! {
    /// One HTTP request: its latency; the sample count is the number of requests.
    HttpRequest = "http_request_ms", Distribution, Milliseconds, ["group", "status_class"], ["route"];
    /// A booking made (one per appointment; a series counts each).
    BookingsCreated = "bookings_created", Counter, Count, [], [];
    /// A booking request refused, by the problem type's slug.
    BookingsRefused = "bookings_refused", Counter, Count, ["reason"], [];
    /// A booking cancelled (by the client, the studio, or an expired hold).
    BookingsCancelled = "bookings_cancelled", Counter, Count, [], [];
    /// A booking marked a no-show (by staff or the detection job).
    BookingsNoShow = "bookings_no_show", Counter, Count, [], [];
    /// A payment's outcome as the provider reported it (`succeeded`, `failed`, `refunded`).
    Payments = "payments", Counter, Count, ["outcome"], [];
    /// A provider webhook refused before it was read: bad signature or too old (an attack, or
    /// a secret rotated on one side only).
    PaymentWebhooksRejected = "payment_webhooks_rejected", Counter, Count, [], [];
    /// One attempt to deliver a webhook message: `delivered`, `retrying` (it failed, another
    /// is scheduled) or `gave_up` (the last one failed, or the endpoint is off).
    WebhookDeliveries = "webhook_deliveries", Counter, Count, ["outcome"], [];
    /// A notification, by channel (`email`, `sms`, `in_app`) and outcome: `sent`, `refused`
    /// (for good: a bad address) or `retrying` (a transient failure; the message comes again).
    Notifications = "notifications", Counter, Count, ["channel", "outcome"], [];
    /// Messages in one batch a worker was handed.
    WorkerBatchSize = "worker_batch_size", Distribution, Count, ["worker"], [];
    /// Messages a worker failed (delivered again, then dead-lettered).
    WorkerFailures = "worker_failures", Counter, Count, ["worker"], [];
    /// Per batch, the age of its oldest event when handled: from the change that raised it,
    /// so a relay delay shows as well as a queue backlog.
    WorkerEventAge = "worker_event_age_ms", Distribution, Milliseconds, ["worker"], [];
    /// Outbox items the sweep sent again (`sent`) or could not (`failed`): a relay that stopped.
    OutboxResent = "outbox_resent", Counter, Count, ["outcome"], [];
    /// How long a finished export took, from its request to its file, by format.
    ExportDuration = "export_ms", Distribution, Milliseconds, ["format"], [];
    /// Rows in a finished export, by format.
    ExportRows = "export_rows", Distribution, Count, ["format"], [];
}

/// Where measurements go.
pub trait MetricsSink: Send + Sync + 'static {
    /// Records `value` for `metric` with its dimension and detail values (`labels` name each of
    /// the metric's dimensions and details once, in any order).
    fn record(&self, metric: Metric, value: f64, labels: &[(&'static str, &str)]);
}

/// The handle use cases call: cheap to clone; records nowhere unless a host gave it a sink.
#[derive(Clone, Default)]
pub struct Metrics {
    sink: Option<Arc<dyn MetricsSink>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("recording", &self.sink.is_some()).finish()
    }
}

impl Metrics {
    /// Metrics recorded into `sink`.
    pub fn new(sink: Arc<dyn MetricsSink>) -> Metrics {
        Metrics { sink: Some(sink) }
    }

    /// Metrics recorded nowhere.
    pub fn none() -> Metrics {
        Metrics::default()
    }

    /// Adds one to a counter.
    pub fn count(&self, metric: Metric, labels: &[(&'static str, &str)]) {
        self.record(metric, 1.0, labels);
    }

    /// Records `value`: an amount for a counter, one observation for a distribution.
    /// A value that is not finite, or labels that are not the metric's own, are dropped with a
    /// warning (CloudWatch would drop such a line anyway; a debug build panics on the labels).
    pub fn record(&self, metric: Metric, value: f64, labels: &[(&'static str, &str)]) {
        let Some(sink) = &self.sink else { return };
        let fits = labels.len() == metric.dimensions().len() + metric.details().len()
            && labels.iter().all(|(k, _)| metric.dimensions().contains(k) || metric.details().contains(k));
        debug_assert!(
            fits,
            "{} takes {:?} {:?}, not {labels:?}",
            metric.name(),
            metric.dimensions(),
            metric.details()
        );
        if !fits || !value.is_finite() {
            tracing::warn!(
                metric = metric.name(),
                value,
                "measurement dropped: not finite, or not its dimensions"
            );
            return;
        }
        sink.record(metric, value, labels);
    }
}

/// The class of an HTTP status, the `status_class` dimension: `2xx` … `5xx`.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// CloudWatch Embedded Metric Format: one JSON log line per measurement, which CloudWatch Logs
/// turns into the metric (no API call, so no latency and no failure path on a request). The
/// line also carries the request id of the work it measured, to go from a spike to its logs.
pub struct Emf {
    function: String,
    write: Box<dyn Fn(&str) + Send + Sync>,
}

impl Emf {
    /// Lines to standard output, which Lambda sends to CloudWatch Logs; `function` is the
    /// `function` dimension (the function's name, `AWS_LAMBDA_FUNCTION_NAME`).
    pub fn stdout(function: &str) -> Emf {
        Emf::writing_to(function, |line| {
            use std::io::Write;
            // One write per line, under the lock: never interleaved with a log line.
            let mut out = std::io::stdout().lock();
            let _ignored = out.write_all(format!("{line}\n").as_bytes());
        })
    }

    /// Lines handed to `write` (tests read them back).
    pub fn writing_to(function: &str, write: impl Fn(&str) + Send + Sync + 'static) -> Emf {
        Emf { function: function.to_owned(), write: Box::new(write) }
    }

    /// The line for one measurement, at `timestamp_ms`. Written out directly rather than
    /// through a `serde_json::Value` (a tenth of the time: it runs on every request).
    pub fn line(
        &self,
        metric: Metric,
        value: f64,
        labels: &[(&'static str, &str)],
        timestamp_ms: i64,
    ) -> String {
        // Names and dimension keys are identifiers from `Metric`; values are escaped.
        let quoted = |text: &str| serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into());
        let mut line = String::with_capacity(320);
        let _ = write!(
            line,
            r#"{{"_aws":{{"Timestamp":{timestamp_ms},"CloudWatchMetrics":[{{"Namespace":"{NAMESPACE}","Dimensions":[["function""#
        );
        for dimension in metric.dimensions() {
            let _ = write!(line, r#","{dimension}""#);
        }
        let _ = write!(
            line,
            r#"]],"Metrics":[{{"Name":"{}","Unit":"{}"}}]}}]}},"function":{}"#,
            metric.name(),
            metric.unit().as_str(),
            quoted(&self.function)
        );
        for (key, label) in labels {
            let _ = write!(line, r#","{key}":{}"#, quoted(label));
        }
        // JSON has no NaN or infinity; `{:?}` keeps a decimal point (`1.0`).
        let value = if value.is_finite() { value } else { 0.0 };
        let _ = write!(line, r#","{}":{value:?}"#, metric.name());
        if let Some(trace) = crate::trace::current() {
            let _ = write!(line, r#","request_id":{}"#, quoted(&trace.request_id));
        }
        line.push('}');
        line
    }
}

impl MetricsSink for Emf {
    fn record(&self, metric: Metric, value: f64, labels: &[(&'static str, &str)]) {
        let now = jiff::Timestamp::now().as_millisecond();
        (self.write)(&self.line(metric, value, labels, now));
    }
}

/// Upper bounds of the histogram buckets, shared by every distribution (milliseconds, rows and
/// batch sizes all fit them).
const BUCKETS: [f64; 15] = [
    1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10_000.0, 30_000.0,
    60_000.0,
];

#[derive(Debug, Clone)]
enum Series {
    Counter(f64),
    Histogram { buckets: [u64; BUCKETS.len()], sum: f64, count: u64 },
}

type Labels = Vec<(&'static str, String)>;

/// Measurements kept in memory and rendered in Prometheus' text format (`GET /metrics` on the
/// local server). Hand-written: the format is a few lines, and one registry per platform
/// (rather than the `metrics` crate's process-wide recorder) keeps parallel tests apart.
#[derive(Default)]
pub struct Prometheus {
    series: Mutex<BTreeMap<(Metric, Labels), Series>>,
}

impl Prometheus {
    /// An empty registry.
    pub fn new() -> Prometheus {
        Prometheus::default()
    }

    /// Everything recorded, in the text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let series = self.series.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = String::new();
        let mut last = None;
        for ((metric, labels), value) in series.iter() {
            if last != Some(*metric) {
                let kind = match metric.kind() {
                    Kind::Counter => "counter",
                    Kind::Distribution => "histogram",
                };
                let _ = writeln!(out, "# TYPE {} {kind}", metric.name());
                last = Some(*metric);
            }
            let name = metric.name();
            match value {
                Series::Counter(total) => {
                    let _ = writeln!(out, "{name}{} {total}", braces(labels, None));
                }
                Series::Histogram { buckets, sum, count } => {
                    let mut cumulative = 0;
                    for (bound, n) in BUCKETS.iter().zip(buckets) {
                        cumulative += n;
                        let le = bound.to_string();
                        let _ = writeln!(out, "{name}_bucket{} {cumulative}", braces(labels, Some(&le)));
                    }
                    let _ = writeln!(out, "{name}_bucket{} {count}", braces(labels, Some("+Inf")));
                    let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels, None));
                    let _ = writeln!(out, "{name}_count{} {count}", braces(labels, None));
                }
            }
        }
        out
    }
}

fn braces(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() { String::new() } else { format!("{{{}}}", parts.join(",")) }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl MetricsSink for Prometheus {
    fn record(&self, metric: Metric, value: f64, labels: &[(&'static str, &str)]) {
        let mut key: Labels = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        key.sort_unstable();
        let mut series = self.series.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = series.entry((metric, key)).or_insert_with(|| match metric.kind() {
            Kind::Counter => Series::Counter(0.0),
            Kind::Distribution => Series::Histogram { buckets: [0; BUCKETS.len()], sum: 0.0, count: 0 },
        });
        match entry {
            Series::Counter(total) => *total += value,
            Series::Histogram { buckets, sum, count } => {
                if let Some(i) = BUCKETS.iter().position(|bound| value <= *bound) {
                    buckets[i] += 1;
                }
                *sum += value;
                *count += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_lines_name_the_metric_its_dimensions_and_value() {
        let emf = Emf::writing_to("atelier-bookings", |_| {});
        let line = emf.line(Metric::BookingsRefused, 1.0, &[("reason", "slot-taken")], 1_700_000_000_000);
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(directive["Namespace"], "Atelier");
        assert_eq!(directive["Dimensions"], serde_json::json!([["function", "reason"]]));
        assert_eq!(
            directive["Metrics"],
            serde_json::json!([{ "Name": "bookings_refused", "Unit": "Count" }])
        );
        assert_eq!(v["function"], "atelier-bookings");
        assert_eq!(v["reason"], "slot-taken");
        assert_eq!(v["bookings_refused"], 1.0);
    }

    #[tokio::test]
    async fn values_are_escaped_and_the_request_id_rides_along() {
        let emf = Emf::writing_to("f\"n", |_| {});
        let trace = crate::trace::Trace { request_id: "r-1".into(), trace_id: None };
        let line = crate::trace::within(trace, async {
            emf.line(Metric::BookingsRefused, f64::NAN, &[("reason", "a\"b\\c\n")], 5)
        })
        .await;
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(
            (&v["function"], &v["reason"]),
            (&serde_json::json!("f\"n"), &serde_json::json!("a\"b\\c\n"))
        );
        assert_eq!(v["bookings_refused"], 0.0, "no NaN in JSON");
        assert_eq!(v["request_id"], "r-1");
    }

    #[test]
    fn a_detail_is_a_property_not_a_dimension() {
        let emf = Emf::writing_to("f", |_| {});
        let labels = [("group", "bookings"), ("status_class", "2xx"), ("route", "/v1/x")];
        let line = emf.line(Metric::HttpRequest, 3.5, &labels, 0);
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["function", "group", "status_class"]])
        );
        assert_eq!(v["route"], "/v1/x");
        assert_eq!(v["http_request_ms"], 3.5);
    }

    #[test]
    fn prometheus_renders_counters_and_cumulative_histograms() {
        let registry = Prometheus::new();
        registry.record(Metric::BookingsRefused, 1.0, &[("reason", "slot-taken")]);
        registry.record(Metric::BookingsRefused, 1.0, &[("reason", "slot-taken")]);
        registry.record(Metric::BookingsCreated, 1.0, &[]);
        let labels = [("status_class", "2xx"), ("group", "bookings"), ("route", "/v1/a\"b")];
        registry.record(Metric::HttpRequest, 3.0, &labels);
        registry.record(Metric::HttpRequest, 70_000.0, &labels);
        let text = registry.render();
        assert!(
            text.contains("# TYPE bookings_refused counter\nbookings_refused{reason=\"slot-taken\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("bookings_created 1\n"), "{text}");
        assert!(text.contains("# TYPE http_request_ms histogram\n"), "{text}");
        let series = "group=\"bookings\",route=\"/v1/a\\\"b\",status_class=\"2xx\"";
        assert!(text.contains(&format!("http_request_ms_bucket{{{series},le=\"2.5\"}} 0\n")), "{text}");
        assert!(text.contains(&format!("http_request_ms_bucket{{{series},le=\"5\"}} 1\n")), "{text}");
        assert!(text.contains(&format!("http_request_ms_bucket{{{series},le=\"60000\"}} 1\n")), "{text}");
        assert!(text.contains(&format!("http_request_ms_bucket{{{series},le=\"+Inf\"}} 2\n")), "{text}");
        assert!(text.contains(&format!("http_request_ms_sum{{{series}}} 70003\n")), "{text}");
        assert!(text.contains(&format!("http_request_ms_count{{{series}}} 2\n")), "{text}");
    }

    #[test]
    fn no_metric_is_split_by_an_id() {
        for metric in Metric::ALL {
            for dim in metric.dimensions().iter().chain(metric.details()) {
                assert!(
                    !dim.ends_with("_id") && *dim != "studio" && *dim != "user",
                    "{}: {dim}",
                    metric.name()
                );
            }
        }
        assert_eq!(status_class(201), "2xx");
        assert_eq!(status_class(503), "5xx");
    }
}
