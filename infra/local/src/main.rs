//! `cargo run -p atelier-local`: Atelier on this machine, no cloud account needed.

use atelier_http::logging::{self, LogFormat};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    logging::init(LogFormat::from_env(LogFormat::Text));
    let result = match atelier_local::LocalOptions::from_env() {
        Ok(options) => atelier_local::serve(options).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("atelier-local: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
