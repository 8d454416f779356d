//! Structured logs with `tracing`: one JSON object per line on Lambda (CloudWatch parses it),
//! readable text locally unless `ATELIER_LOG_FORMAT=json`.

use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Text,
}

impl LogFormat {
    /// `ATELIER_LOG_FORMAT` (`json` or `text`), else `default`.
    pub fn from_env(default: LogFormat) -> LogFormat {
        match std::env::var("ATELIER_LOG_FORMAT").as_deref() {
            Ok("json") => LogFormat::Json,
            Ok("text") => LogFormat::Text,
            _ => default,
        }
    }
}

/// Installs the global subscriber; level from `RUST_LOG` (default `info`). Safe to call twice.
pub fn init(format: LogFormat) {
    let _already_set = match format {
        LogFormat::Json => tracing::subscriber::set_global_default(json(std::io::stdout)).is_ok(),
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter()).try_init().is_ok(),
    };
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The JSON subscriber writing to `writer`: one object per line, the event's fields at the top
/// level and the current span's (`request_id`, `route`, `worker`…) under `span` — the lines
/// CloudWatch Logs Insights queries (docs/operations.md), and the tests read back.
pub fn json<W>(writer: W) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter())
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_ansi(false)
        .with_writer(writer)
        .finish()
}
