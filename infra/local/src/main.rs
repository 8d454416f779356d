//! `cargo run -p atelier-local`: Atelier on this machine, no cloud account needed.
//! `cargo run -p atelier-local -- demo`: fills the local data directory with a demo studio.
//! `cargo run -p atelier-local -- make-admin <email>`: makes an existing account a platform
//! administrator.
//! `cargo run -p atelier-local -- rebuild-tallies --studio <id> --from <date> --to <date>
//! [--apply]`: compares (and mends) a studio's daily booking tallies with its bookings.

use atelier_http::logging::{self, LogFormat};

/// mimalloc, as on Lambda: glibc's malloc took a quarter of a slot query's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    logging::init(LogFormat::from_env(LogFormat::Text));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match atelier_local::LocalOptions::from_env() {
        Ok(options) => options,
        Err(e) => return fail(&e),
    };
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => atelier_local::serve(options).await,
        ["demo"] => match atelier_local::demo::seed(&options).await {
            Ok(report) => {
                println!("{}", atelier_local::demo::instructions(&report));
                Ok(())
            }
            Err(e) => return fail(&e),
        },
        ["make-admin", email] => atelier_local::make_admin(&options, email).await.map(|user_id| {
            println!("{email} ({user_id}) is now a platform administrator");
        }),
        ["rebuild-tallies", rest @ ..] => {
            atelier_local::rebuild_tallies(&options, rest).await.map(|report| {
                println!("{report}");
            })
        }
        _ => {
            eprintln!("usage: atelier-local [demo | make-admin <email> | rebuild-tallies …]");
            return std::process::ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &dyn std::fmt::Display) -> std::process::ExitCode {
    eprintln!("atelier-local: {e}");
    std::process::ExitCode::FAILURE
}
