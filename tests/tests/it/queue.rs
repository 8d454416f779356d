//! Queue and worker-host contract: batches, partial batch failures, idempotency per event,
//! dead letters. On the embedded queue and on SQS (moto) through the Lambda glue.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use atelier_platform::events::Event;
use atelier_platform::queue::{QueueError, QueueMessage};
use atelier_platform::worker::{EventHandler, HandlerError, IncomingMessage, Worker};
use atelier_tests::{Backend, TestApp};
use jiff::SignedDuration;

/// Records the events it handles; fails those whose payload says so.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<String>>,
    delay: Duration,
}

#[async_trait]
impl EventHandler for Recorder {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        tokio::time::sleep(self.delay).await;
        if event.payload["fail"] == true {
            return Err(HandlerError::Refused("asked to fail".into()));
        }
        self.seen.lock().expect("lock").push(event.id.clone());
        Ok(())
    }
}

fn event(app: &TestApp, id: &str, fail: bool) -> QueueMessage {
    let event = Event {
        id: id.to_owned(),
        kind: "test.recorded".into(),
        studio_id: None,
        occurred_at: atelier_platform::clock::Clock::now(app.clock.as_ref()),
        trace: None,
        payload: serde_json::json!({ "fail": fail }),
    };
    QueueMessage { id: id.to_owned(), body: serde_json::to_string(&event).expect("json") }
}

fn worker(app: &TestApp, recorder: Arc<Recorder>) -> Worker {
    Worker::new("test", app.platform.store.clone(), app.platform.clock.clone(), Duration::from_secs(30))
        .on("test.recorded", recorder)
}

async fn batches_deliver_everything(app: TestApp) {
    let messages: Vec<QueueMessage> = (0..25).map(|i| event(&app, &format!("e{i:02}"), false)).collect();
    app.platform
        .queue
        .send(&atelier_notifications::QUEUE, &messages)
        .await
        .expect("send 25 in three batches");
    let recorder = Arc::new(Recorder::default());
    let received = app.deliver(&atelier_notifications::QUEUE, &worker(&app, recorder.clone())).await;
    assert_eq!(received, 25);
    let mut seen = recorder.seen.lock().expect("lock").clone();
    seen.sort();
    assert_eq!(seen, (0..25).map(|i| format!("e{i:02}")).collect::<Vec<_>>());
}

async fn invalid_messages_send_nothing(app: TestApp) {
    let mut messages = vec![event(&app, "ok-1", false), event(&app, "ok-2", false)];
    messages.push(QueueMessage { id: "bad id!".into(), body: "{}".into() });
    match app.platform.queue.send(&atelier_notifications::QUEUE, &messages).await {
        Err(QueueError::Invalid { id, .. }) => assert_eq!(id, "bad id!"),
        other => panic!("expected the batch to be refused, got {other:?}"),
    }
    let received = app.deliver(&atelier_notifications::QUEUE, &worker(&app, Arc::default())).await;
    assert_eq!(received, 0, "nothing of a refused batch was sent");
}

async fn partial_batch_failures_are_delivered_again(app: TestApp) {
    let messages =
        vec![event(&app, "good-1", false), event(&app, "bad-1", true), event(&app, "good-2", false)];
    app.platform.queue.send(&atelier_notifications::QUEUE, &messages).await.expect("send");
    let recorder = Arc::new(Recorder::default());
    let w = worker(&app, recorder.clone());
    assert_eq!(app.deliver(&atelier_notifications::QUEUE, &w).await, 3);
    let mut seen = recorder.seen.lock().expect("lock").clone();
    seen.sort();
    assert_eq!(seen, ["good-1", "good-2"]);

    match app.backend {
        Backend::Embedded => {
            // Invisible until the visibility timeout passes, then back, until dead-lettered.
            assert_eq!(app.deliver(&atelier_notifications::QUEUE, &w).await, 0);
            for _ in 0..4 {
                app.clock.advance(SignedDuration::from_secs(31));
                assert_eq!(
                    app.deliver(&atelier_notifications::QUEUE, &w).await,
                    1,
                    "the failed message comes back"
                );
            }
            app.clock.advance(SignedDuration::from_secs(31));
            assert_eq!(
                app.deliver(&atelier_notifications::QUEUE, &w).await,
                0,
                "fifth failure: dead-lettered"
            );
            let local = app.local_app().expect("embedded host");
            let dead = local.queue.dead_letters(&atelier_notifications::QUEUE).await.expect("dead letters");
            assert_eq!(dead.len(), 1);
            assert!(dead[0].contains("bad-1"));
        }
        Backend::Aws => {
            // The failed message was reported, so the glue left it on the queue (in flight).
            let (clients, settings) = app.aws_parts().expect("aws host");
            let url = &settings.queue_urls[&atelier_notifications::QUEUE];
            let attributes = clients
                .sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(
                    aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                )
                .send()
                .await
                .expect("attributes");
            let in_flight = attributes
                .attributes()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                })
                .cloned();
            assert_eq!(in_flight.as_deref(), Some("1"));
        }
    }
}

async fn each_event_is_handled_once(app: TestApp) {
    // The same event sent twice (a relay and a sweep, say) is two messages, one effect.
    let messages = vec![event(&app, "dup", false)];
    app.platform.queue.send(&atelier_notifications::QUEUE, &messages).await.expect("send");
    app.platform.queue.send(&atelier_notifications::QUEUE, &messages).await.expect("send again");
    let recorder = Arc::new(Recorder::default());
    let w = worker(&app, recorder.clone());
    assert_eq!(app.deliver(&atelier_notifications::QUEUE, &w).await, 2);
    assert_eq!(recorder.seen.lock().expect("lock").as_slice(), ["dup"]);
}

async fn concurrent_deliveries_of_one_event_run_it_once(app: TestApp) {
    let recorder = Arc::new(Recorder { delay: Duration::from_millis(300), ..Recorder::default() });
    let w = worker(&app, recorder.clone());
    let message = |id: &str| IncomingMessage { message_id: id.into(), body: event(&app, "once", false).body };
    let (first, second) = ([message("m1")], [message("m2")]);
    let (a, b) = tokio::join!(w.process_batch(&first), w.process_batch(&second));
    assert_eq!(recorder.seen.lock().expect("lock").len(), 1, "the handler ran once");
    assert_eq!(a.handled + b.handled, 1);
    assert_eq!(a.failed.len() + b.failed.len(), 1, "the other delivery is retried later");
    // The retry finds the event done.
    let retry = w.process_batch(&[message("m3")]).await;
    assert_eq!((retry.handled, retry.duplicates, retry.failed.len()), (0, 1, 0));
}

async fn malformed_and_unknown_messages_fail(app: TestApp) {
    let w = worker(&app, Arc::default());
    let unknown = Event {
        id: "u1".into(),
        kind: "nobody.handles".into(),
        studio_id: None,
        occurred_at: atelier_platform::clock::Clock::now(app.clock.as_ref()),
        trace: None,
        payload: serde_json::Value::Null,
    };
    let outcome = w
        .process_batch(&[
            IncomingMessage { message_id: "a".into(), body: "not json".into() },
            IncomingMessage { message_id: "b".into(), body: serde_json::to_string(&unknown).expect("json") },
            IncomingMessage { message_id: "c".into(), body: event(&app, "fine", false).body },
        ])
        .await;
    assert_eq!(outcome.failed, ["a", "b"]);
    assert_eq!(outcome.handled, 1);
}

atelier_tests::on_both_backends!(
    batches_deliver_everything,
    invalid_messages_send_nothing,
    partial_batch_failures_are_delivered_again,
    each_event_is_handled_once,
    concurrent_deliveries_of_one_event_run_it_once,
    malformed_and_unknown_messages_fail,
);

#[tokio::test]
async fn sqs_batch_response_names_failed_messages() {
    use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
    let app = TestApp::embedded().await;
    let w = worker(&app, Arc::default());
    let mut event_in = SqsEvent::default();
    for (id, body) in [("m-ok", event(&app, "ok", false).body), ("m-bad", event(&app, "bad", true).body)] {
        let mut record = SqsMessage::default();
        record.message_id = Some(id.into());
        record.body = Some(body);
        event_in.records.push(record);
    }
    let mut no_body = SqsMessage::default();
    no_body.message_id = Some("m-empty".into());
    event_in.records.push(no_body);
    let response = atelier_aws::handle_sqs_batch(&w, event_in).await;
    let mut failed: Vec<String> =
        response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
    failed.sort();
    assert_eq!(failed, ["m-bad", "m-empty"]);
    let json =
        serde_json::to_value(atelier_aws::handle_sqs_batch(&w, SqsEvent::default()).await).expect("json");
    assert_eq!(json, serde_json::json!({ "batchItemFailures": [] }), "the shape Lambda expects");
}
