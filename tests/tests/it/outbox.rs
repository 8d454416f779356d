//! Outbox: events written with the change that caused them reach their queue after commit,
//! survive a queue outage, and are delivered once.

use atelier_app::jobs::{self, Job, JobReport};
use atelier_notifications::{InboxEntry, Notice, Recipient, Topic, inbox_key, notice_event};
use atelier_platform::clock::Clock;
use atelier_platform::outbox;
use atelier_platform::store::{Item, Key, Query, WriteOp};
use atelier_tests::TestApp;
use jiff::SignedDuration;

fn notice(
    app: &TestApp,
    user: &str,
) -> (atelier_platform::events::Event, atelier_platform::queue::QueueName) {
    let to = Recipient { user_id: Some(user.into()), name: "Ana".into(), ..Recipient::default() };
    let notice = Notice::new(Topic::PasswordChanged, to);
    notice_event(ulid::Ulid::generate().to_string(), app.clock.now(), None, &notice)
}

async fn outbox_items(app: &TestApp) -> usize {
    let mut n = 0;
    for shard in 0..outbox::SHARDS {
        n += app
            .platform
            .store
            .query_all(Query::partition(format!("OUTBOX#{shard}")), 1000)
            .await
            .expect("query")
            .len();
    }
    n
}

async fn inbox(app: &TestApp, user: &str) -> Vec<InboxEntry> {
    // The entries only: the partition also holds the user's unread counter.
    let query = Query::partition(format!("USER#{user}"))
        .sort(atelier_platform::store::SortKey::BeginsWith("NOTIFICATION#".into()));
    let items = app.platform.store.query_all(query, 100).await.expect("query");
    items.iter().map(|i| i.to_record().expect("inbox entry")).collect()
}

async fn events_reach_the_worker_after_commit(app: TestApp) {
    let (event, queue) = notice(&app, "u1");
    let (op, entry) = outbox::record(&event, &queue).expect("record");
    let change = WriteOp::create(Item::new(&Key::new("THING#1", "THING")));
    app.platform.store.transact(vec![change, op]).await.expect("commit");
    assert_eq!(outbox_items(&app).await, 1, "the event is stored with the change");

    let report = app.platform.outbox.relay(vec![entry]).await;
    assert_eq!((report.sent, report.failed), (1, 0));
    assert_eq!(outbox_items(&app).await, 0, "sent and cleared");

    assert_eq!(app.run_workers().await, 1);
    let entries = inbox(&app, "u1").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].id, event.id);
    assert!(!entries[0].read);
}

async fn a_failed_commit_sends_nothing(app: TestApp) {
    let (event, queue) = notice(&app, "u2");
    let (op, _entry) = outbox::record(&event, &queue).expect("record");
    app.platform.store.write(WriteOp::put(Item::new(&Key::new("THING#2", "THING")))).await.expect("seed");
    let clash = WriteOp::create(Item::new(&Key::new("THING#2", "THING")));
    assert!(app.platform.store.transact(vec![clash, op]).await.is_err());
    assert_eq!(outbox_items(&app).await, 0, "no change, no event");
}

async fn lost_relays_are_swept(app: TestApp) {
    let (event, queue) = notice(&app, "u3");
    let (op, entry) = outbox::record(&event, &queue).expect("record");
    app.platform.store.transact(vec![op]).await.expect("commit");

    app.queue_switch.set_down(true);
    let report = app.platform.outbox.relay(vec![entry]).await;
    assert_eq!((report.sent, report.failed), (0, 1));
    assert_eq!(outbox_items(&app).await, 1, "kept for the sweep");
    app.queue_switch.set_down(false);

    let young = jobs::run(Job::OutboxSweep, &app.platform).await.expect("sweep");
    assert_eq!(
        young,
        JobReport::OutboxSweep { sent: 0, failed: 0 },
        "a fresh item is the request's to relay"
    );
    app.clock.advance(SignedDuration::from_secs(61));
    let swept = jobs::run(Job::OutboxSweep, &app.platform).await.expect("sweep");
    assert_eq!(swept, JobReport::OutboxSweep { sent: 1, failed: 0 });
    assert_eq!(outbox_items(&app).await, 0);

    assert_eq!(app.run_workers().await, 1);
    assert_eq!(inbox(&app, "u3").await.len(), 1);
}

async fn double_sends_deliver_once(app: TestApp) {
    let (event, queue) = notice(&app, "u4");
    let (op, entry) = outbox::record(&event, &queue).expect("record");
    app.platform.store.transact(vec![op]).await.expect("commit");
    // The relay succeeds at sending but dies before clearing; the sweep sends again.
    let lost_clear = app.platform.outbox.relay(vec![entry.clone()]).await;
    assert_eq!(lost_clear.sent, 1);
    let (op, _) = outbox::record(&event, &queue).expect("record again");
    app.platform.store.transact(vec![op]).await.expect("the item is back, as if never cleared");
    app.clock.advance(SignedDuration::from_secs(61));
    jobs::run(Job::OutboxSweep, &app.platform).await.expect("sweep");
    assert_eq!(app.run_workers().await, 2, "two messages");
    let entries = inbox(&app, "u4").await;
    assert_eq!(entries.len(), 1, "one notice");
    let marker = app
        .platform
        .store
        .get(&inbox_key(&atelier_domain::ids::UserId::from(&"u4"), &event.id))
        .await
        .expect("get");
    assert!(marker.is_some());
}

/// The local server relays after the response, on a task of its own: the event still arrives.
async fn background_relays_still_deliver(app: TestApp) {
    let (event, queue) = notice(&app, "u5");
    let (op, entry) = outbox::record(&event, &queue).expect("record");
    app.platform.store.transact(vec![op]).await.expect("commit");
    let outbox = app.platform.outbox.clone().relaying_in_background();
    outbox.relay_committed(vec![entry]).await;
    let mut waited = 0;
    while outbox_items(&app).await > 0 {
        assert!(waited < 500, "the background relay never cleared the entry");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        waited += 1;
    }
    assert_eq!(app.run_workers().await, 1);
    assert_eq!(inbox(&app, "u5").await.len(), 1);
}

atelier_tests::on_both_backends!(
    background_relays_still_deliver,
    events_reach_the_worker_after_commit,
    a_failed_commit_sends_nothing,
    lost_relays_are_swept,
    double_sends_deliver_once,
);

#[tokio::test]
async fn notices_keep_the_recipients_apart() {
    let app = TestApp::embedded().await;
    let events: Vec<_> = ["a", "b", "a"].iter().map(|u| notice(&app, u)).collect();
    let mut entries = Vec::new();
    let mut ops = Vec::new();
    for (event, queue) in &events {
        let (op, entry) = outbox::record(event, queue).expect("record");
        ops.push(op);
        entries.push(entry);
    }
    app.platform.store.transact(ops).await.expect("commit");
    app.platform.outbox.relay(entries).await;
    app.run_workers().await;
    assert_eq!(inbox(&app, "a").await.len(), 2);
    assert_eq!(inbox(&app, "b").await.len(), 1);
}
