//! Test helper for crash safety: writes to an embedded store as fast as it can and prints the
//! number of each write once the store has acknowledged it. The crash test kills it mid-write.
//! With `outbox`, each transaction also records an event that is then relayed to the embedded
//! queue as the hosts do (the send and the clear are relaxed, not fsync'd), and the number is
//! printed once the relay returns.
//!
//! Usage: `store-writer <data-dir> <first-number> [outbox]`.

use std::io::Write;
use std::sync::Arc;

use atelier_platform::clock::{Clock, SystemClock};
use atelier_platform::events::Event;
use atelier_platform::outbox::{self, Outbox};
use atelier_platform::queue::Queue;
use atelier_platform::store::{Item, Key, Store, UpdateAction, WriteOp};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: store-writer <data-dir> <first-number> [outbox]")?;
    let first: u64 = args.next().ok_or("missing first number")?.parse()?;
    let with_outbox = args.next().as_deref() == Some("outbox");
    let embedded = atelier_embedded::Embedded::open(std::path::Path::new(&dir))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Store::new(Arc::new(embedded.store()?), clock.clone());
    let queue = embedded.queue(clock.clone(), atelier_embedded::QueueOptions::default())?;
    let relay = Outbox::new(store.clone(), Queue::new(Arc::new(queue)), clock.clone());
    let mut stdout = std::io::stdout();
    for n in first.. {
        // Two items per transaction: after a crash both exist or neither does.
        let mut ops = vec![
            WriteOp::create(Item::new(&Key::new("W", format!("{n:012}"))).with("payload", "x".repeat(200))),
            WriteOp::update(Key::new("W-COUNT", "COUNT"), vec![UpdateAction::Add("n".into(), 1)]),
        ];
        let mut entries = Vec::new();
        if with_outbox {
            let event = Event {
                id: format!("ev-{n}"),
                kind: "test.written".into(),
                studio_id: None,
                occurred_at: clock.now(),
                trace: None,
                payload: serde_json::json!({ "n": n }),
            };
            let (op, entry) = outbox::record(&event, &atelier_notifications::QUEUE)?;
            ops.push(op);
            entries.push(entry);
        }
        store.transact(ops).await?;
        relay.relay_committed(entries).await;
        writeln!(stdout, "{n}")?;
        stdout.flush()?;
    }
    Ok(())
}
