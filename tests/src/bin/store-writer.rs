//! Test helper for crash safety: writes to an embedded store as fast as it can and prints the
//! number of each write once the store has acknowledged it. The crash test kills it mid-write.
//!
//! Usage: `store-writer <data-dir> <first-number>`.

use std::io::Write;
use std::sync::Arc;

use atelier_core::clock::SystemClock;
use atelier_core::store::{Item, Key, Store, UpdateAction, WriteOp};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: store-writer <data-dir> <first-number>")?;
    let first: u64 = args.next().ok_or("missing first number")?.parse()?;
    let embedded = atelier_embedded::Embedded::open(std::path::Path::new(&dir))?;
    let store = Store::new(Arc::new(embedded.store()?), Arc::new(SystemClock));
    let mut stdout = std::io::stdout();
    for n in first.. {
        // Two items per transaction: after a crash both exist or neither does.
        store
            .transact(vec![
                WriteOp::create(
                    Item::new(&Key::new("W", format!("{n:012}"))).with("payload", "x".repeat(200)),
                ),
                WriteOp::update(Key::new("W-COUNT", "COUNT"), vec![UpdateAction::Add("n".into(), 1)]),
            ])
            .await?;
        writeln!(stdout, "{n}")?;
        stdout.flush()?;
    }
    Ok(())
}
