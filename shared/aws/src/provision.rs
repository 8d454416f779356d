//! The resources Atelier needs, as code: the one source for local emulators and tests.
//! `template.yaml` declares the same for AWS, and a test checks that the two agree.

use std::collections::HashMap;

use atelier_platform::store::{Index, StoreError, attr};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::dynamodb::build_error;

/// What the single table looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// Key attributes of the table (partition, sort).
    pub key: (&'static str, &'static str),
    /// Indexes: name and key attributes (partition, sort); every index projects all attributes.
    pub indexes: Vec<(&'static str, (&'static str, &'static str))>,
    /// TTL attribute.
    pub ttl: &'static str,
}

/// The single table.
pub fn table_spec() -> TableSpec {
    TableSpec {
        key: (attr::PK, attr::SK),
        indexes: Index::ALL.iter().map(|i| (i.name(), i.key_attributes())).collect(),
        ttl: attr::TTL,
    }
}

/// How every queue and its dead-letter queue are configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSpec {
    /// Seconds a received message stays invisible: at least 6 × the worker's timeout.
    pub visibility_timeout: u32,
    /// Seconds a message is kept.
    pub retention: u32,
    /// Receives before a message moves to the dead-letter queue.
    pub max_receive_count: u32,
    /// Seconds the dead-letter queue keeps a message: longer than the source queue.
    pub dlq_retention: u32,
}

/// Worker functions time out after this many seconds.
pub const WORKER_TIMEOUT_SECONDS: u32 = 30;

/// The queue configuration.
pub const QUEUE_SPEC: QueueSpec = QueueSpec {
    visibility_timeout: 6 * WORKER_TIMEOUT_SECONDS,
    retention: 4 * 24 * 3600,
    max_receive_count: 5,
    dlq_retention: 14 * 24 * 3600,
};

fn unavailable(what: &str, e: impl std::error::Error) -> StoreError {
    StoreError::Unavailable(format!("{what}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)).into())
}

/// Creates the table (on-demand, with its indexes and TTL) as `template.yaml` declares it.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), StoreError> {
    let spec = table_spec();
    let string_attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build_error)
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder().attribute_name(n).key_type(t).build().map_err(build_error)
    };
    let mut definitions = vec![string_attr(spec.key.0)?, string_attr(spec.key.1)?];
    let mut indexes = Vec::new();
    for (name, (pk, sk)) in &spec.indexes {
        definitions.push(string_attr(pk)?);
        definitions.push(string_attr(sk)?);
        indexes.push(
            GlobalSecondaryIndex::builder()
                .index_name(*name)
                .key_schema(key(pk, KeyType::Hash)?)
                .key_schema(key(sk, KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(build_error)?,
        );
    }
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(definitions))
        .key_schema(key(spec.key.0, KeyType::Hash)?)
        .key_schema(key(spec.key.1, KeyType::Range)?)
        .set_global_secondary_indexes(Some(indexes))
        .send()
        .await
        .map_err(|e| unavailable(&format!("create table {name}"), e))?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(spec.ttl)
                .build()
                .map_err(build_error)?,
        )
        .send()
        .await
        .map_err(|e| unavailable(&format!("enable TTL on {name}"), e))?;
    Ok(())
}

/// Creates a queue and its dead-letter queue; returns the queue's URL.
pub async fn create_queue(client: &aws_sdk_sqs::Client, name: &str) -> Result<String, String> {
    let spec = QUEUE_SPEC;
    let err = |what: &str, e: &dyn std::error::Error| {
        format!("{what}: {}", aws_sdk_sqs::error::DisplayErrorContext(e))
    };
    let dlq = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, spec.dlq_retention.to_string())
        .send()
        .await
        .map_err(|e| err("create dead-letter queue", &e))?;
    let dlq_url = dlq.queue_url().unwrap_or_default();
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| err("read dead-letter queue ARN", &e))?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or("dead-letter queue without ARN")?;
    let redrive =
        serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count });
    let attributes = HashMap::from([
        (QueueAttributeName::VisibilityTimeout, spec.visibility_timeout.to_string()),
        (QueueAttributeName::MessageRetentionPeriod, spec.retention.to_string()),
        (QueueAttributeName::RedrivePolicy, redrive.to_string()),
    ]);
    let queue = client
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(|e| err("create queue", &e))?;
    queue.queue_url().map(str::to_owned).ok_or_else(|| "queue without URL".to_owned())
}

/// Creates a bucket.
pub async fn create_bucket(client: &aws_sdk_s3::Client, name: &str) -> Result<(), String> {
    client
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .map_err(|e| format!("create bucket {name}: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// Verifies `address` as an SES sender (an emulator verifies at once; on AWS the owner of the
/// address confirms by email, or the domain is verified with DNS records instead).
pub async fn create_email_identity(client: &aws_sdk_sesv2::Client, address: &str) -> Result<(), String> {
    match client.create_email_identity().email_identity(address).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_already_exists_exception()) => Ok(()),
        Err(e) => {
            Err(format!("create email identity {address}: {}", aws_sdk_sesv2::error::DisplayErrorContext(e)))
        }
    }
}
