//! Counts AWS requests, as SDK interceptors: DynamoDB calls by operation (what tests and
//! benchmarks use to show how many calls an operation makes, and that none is a `Scan`), and
//! the meter of the cost model: every service's calls and DynamoDB's consumed capacity.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::body::SdkBody;

use crate::Clients;

/// Requests sent, by operation (`GetItem`, `Query`, `TransactWriteItems`...), retries included.
#[derive(Debug, Default, Clone)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, usize>>>);

impl CallCounter {
    /// A fresh counter.
    pub fn new() -> CallCounter {
        CallCounter::default()
    }

    /// The counts so far, and a reset.
    pub fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A DynamoDB client like `client`, whose every request this counter counts.
    pub fn instrument(&self, client: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
        let config = client.config().to_builder().interceptor(self.clone()).build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // DynamoDB's JSON protocol names the operation in `X-Amz-Target: DynamoDB_20120810.<Op>`.
        let operation = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        *self.0.lock().unwrap_or_else(|e| e.into_inner()).entry(operation).or_insert(0) += 1;
        Ok(())
    }
}

/// What some work cost in AWS requests: calls by service and operation (retries included) and
/// the read and write units DynamoDB says it consumed. The meter asks for them itself
/// (`ReturnConsumedCapacity: TOTAL` is added to every DynamoDB request it sees), so the code
/// measured is the code that runs. For the cost model (docs/performance.md), never production.
#[derive(Debug, Default, Clone)]
pub struct Meter(Arc<Mutex<Usage>>);

/// Requests and capacity, as [`Meter`] counts them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Usage {
    /// Calls by `<service>.<operation>` (`dynamodb.Query`, `sqs.SendMessage`, `s3.PutObject`).
    pub calls: BTreeMap<String, usize>,
    /// DynamoDB read units (on demand: read request units).
    pub read_units: f64,
    /// DynamoDB write units (on demand: write request units).
    pub write_units: f64,
}

/// DynamoDB operations that read; every other data operation writes.
const READS: [&str; 5] = ["GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"];
/// DynamoDB operations that can report their consumed capacity.
const WITH_CAPACITY: [&str; 10] = [
    "GetItem",
    "BatchGetItem",
    "Query",
    "Scan",
    "TransactGetItems",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
];

impl Meter {
    /// A fresh meter.
    pub fn new() -> Meter {
        Meter::default()
    }

    /// The usage so far, and a reset.
    pub fn take(&self) -> Usage {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Clients like `clients` whose every request this meter counts.
    pub fn instrument(&self, clients: &Clients) -> Clients {
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(
                clients.dynamodb.config().to_builder().interceptor(self.clone()).build(),
            ),
            sqs: aws_sdk_sqs::Client::from_conf(
                clients.sqs.config().to_builder().interceptor(self.clone()).build(),
            ),
            s3: aws_sdk_s3::Client::from_conf(
                clients.s3.config().to_builder().interceptor(self.clone()).build(),
            ),
            ses: aws_sdk_sesv2::Client::from_conf(
                clients.ses.config().to_builder().interceptor(self.clone()).build(),
            ),
            sns: aws_sdk_sns::Client::from_conf(
                clients.sns.config().to_builder().interceptor(self.clone()).build(),
            ),
        }
    }

    fn usage(&self) -> std::sync::MutexGuard<'_, Usage> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn operation(cfg: &ConfigBag) -> Option<(&str, &str)> {
    cfg.load::<Metadata>().map(|m| (m.service(), m.name()))
}

fn is_dynamodb(service: &str) -> bool {
    service.eq_ignore_ascii_case("dynamodb")
}

impl Intercept for Meter {
    fn name(&self) -> &'static str {
        "Meter"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some((service, op)) = operation(cfg) else { return Ok(()) };
        if !is_dynamodb(service) || !WITH_CAPACITY.contains(&op) {
            return Ok(());
        }
        let request = context.request_mut();
        let Some(bytes) = request.body().bytes() else { return Ok(()) };
        let Ok(serde_json::Value::Object(mut body)) = serde_json::from_slice::<serde_json::Value>(bytes)
        else {
            return Ok(());
        };
        body.insert("ReturnConsumedCapacity".into(), "TOTAL".into());
        let bytes = serde_json::to_vec(&body)?;
        request.headers_mut().insert("content-length", bytes.len().to_string());
        *request.body_mut() = SdkBody::from(bytes);
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some((service, op)) = operation(cfg) {
            *self.usage().calls.entry(format!("{}.{op}", service.to_ascii_lowercase())).or_insert(0) += 1;
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some((service, op)) = operation(cfg) else { return Ok(()) };
        if !is_dynamodb(service) {
            return Ok(());
        }
        let Some(bytes) = context.response().body().bytes() else { return Ok(()) };
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(bytes) else { return Ok(()) };
        let consumed = match &body["ConsumedCapacity"] {
            serde_json::Value::Array(all) => all.iter().collect(),
            serde_json::Value::Null => Vec::new(),
            one => vec![one],
        };
        let reads = READS.contains(&op);
        let mut usage = self.usage();
        for c in consumed {
            // The split DynamoDB reports when it does (a transaction's reads and writes), else
            // the total, by what the operation does.
            match (c["ReadCapacityUnits"].as_f64(), c["WriteCapacityUnits"].as_f64()) {
                (None, None) => {
                    let total = c["CapacityUnits"].as_f64().unwrap_or(0.0);
                    if reads {
                        usage.read_units += total;
                    } else {
                        usage.write_units += total;
                    }
                }
                (r, w) => {
                    usage.read_units += r.unwrap_or(0.0);
                    usage.write_units += w.unwrap_or(0.0);
                }
            }
        }
        Ok(())
    }
}
