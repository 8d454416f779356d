//! Killing a process in the middle of writes never corrupts the embedded file, and every write
//! it acknowledged is there after a restart, whole.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use atelier_platform::clock::SystemClock;
use atelier_platform::events::Event;
use atelier_platform::outbox::Outbox;
use atelier_platform::queue::Queue;
use atelier_platform::store::{Key, Query, Store};

#[tokio::test]
async fn killed_writers_lose_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut acknowledged = Vec::new();
    for round in 0..3u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_store-writer"))
            .arg(dir.path())
            .arg((round * 1_000_000).to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("writer starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        // Let it get going, then kill it without warning (SIGKILL) while it writes.
        for _ in 0..(150 + round * 50) {
            let line = lines.next().expect("writer alive").expect("line");
            acknowledged.push(line.parse::<u64>().expect("number"));
        }
        child.kill().expect("kill");
        // Anything it printed before dying was acknowledged too.
        for line in lines {
            let Ok(line) = line else { break };
            if let Ok(n) = line.parse::<u64>() {
                acknowledged.push(n);
            }
        }
        child.wait().expect("reaped");

        let embedded = atelier_embedded::Embedded::open(dir.path()).expect("file opens after a kill");
        let store = Store::new(Arc::new(embedded.store().expect("store")), Arc::new(SystemClock));
        let written = store.query_all(Query::partition("W"), usize::MAX).await.expect("readable");
        let written: Vec<u64> =
            written.iter().map(|i| i.key().expect("key").sk.parse().expect("number")).collect();
        for n in &acknowledged {
            assert!(written.contains(n), "acknowledged write {n} lost (round {round})");
        }
        let count = store.get(&Key::new("W-COUNT", "COUNT")).await.expect("read").expect("counter");
        assert_eq!(
            count.number("n").ok(),
            Some(written.len() as i64),
            "both halves of every transaction, or neither"
        );
    }
}

/// The embedded queue's sends and the outbox clears skip the fsync (see `RelaxedCommits`):
/// killed mid-relay, the writer may lose sends, but never an event: every committed entry is
/// still in the outbox or in the queue, and the sweep sends what the queue lost.
#[tokio::test]
async fn killed_relays_lose_no_event() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut acknowledged = Vec::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_store-writer"))
        .arg(dir.path())
        .arg("0")
        .arg("outbox")
        .stdout(Stdio::piped())
        .spawn()
        .expect("writer starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    for _ in 0..300 {
        let line = lines.next().expect("writer alive").expect("line");
        acknowledged.push(line.parse::<u64>().expect("number"));
    }
    child.kill().expect("kill");
    for line in lines {
        let Ok(line) = line else { break };
        if let Ok(n) = line.parse::<u64>() {
            acknowledged.push(n);
        }
    }
    child.wait().expect("reaped");

    let clock: Arc<dyn atelier_platform::clock::Clock> = Arc::new(SystemClock);
    let embedded = atelier_embedded::Embedded::open(dir.path()).expect("file opens after a kill");
    let store = Store::new(Arc::new(embedded.store().expect("store")), clock.clone());
    let queue = embedded.queue(clock.clone(), atelier_embedded::QueueOptions::default()).expect("queue");
    let outbox = Outbox::new(store.clone(), Queue::new(Arc::new(queue.clone())), clock);
    let swept = outbox.sweep(std::time::Duration::ZERO).await.expect("sweep");
    assert_eq!(swept.failed, 0);
    let mut delivered = HashSet::new();
    loop {
        let batch = queue.receive(&atelier_notifications::QUEUE, 10).await.expect("receive");
        if batch.is_empty() {
            break;
        }
        for delivery in batch {
            let event: Event = serde_json::from_str(&delivery.message.body).expect("event");
            delivered.insert(event.id);
        }
    }
    for n in &acknowledged {
        assert!(delivered.contains(&format!("ev-{n}")), "event {n} lost (swept {})", swept.sent);
    }
    for shard in 0..atelier_platform::outbox::SHARDS {
        let left =
            store.query_all(Query::partition(format!("OUTBOX#{shard}")), usize::MAX).await.expect("outbox");
        assert!(left.is_empty(), "the sweep cleared what it sent");
    }
    eprintln!("{} events acknowledged, {} sent again by the sweep", acknowledged.len(), swept.sent);
}
