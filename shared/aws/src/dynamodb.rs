//! The store on DynamoDB. Conditions and updates are rendered from the port's data types; every
//! condition is wrapped so an item whose TTL has passed counts as absent, as the embedded store
//! does, because DynamoDB deletes expired items up to days late.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use atelier_platform::store::{
    Condition, Cursor, Index, Item, Key, Order, Page, Query, SortKey, StoreBackend, StoreError, UpdateAction,
    Value, WriteOp, apply_update, attr,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

type AttributeMap = HashMap<String, AttributeValue>;

/// The DynamoDB store.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore { client, table: table.into() }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }
}

// ---------------------------------------------------------------------------------------------
// Values

fn to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::S(s) => AttributeValue::S(s.clone()),
        Value::N(n) => AttributeValue::N(n.to_string()),
        Value::B(b) => AttributeValue::B(Blob::new(b.clone())),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Null => AttributeValue::Null(true),
        Value::L(l) => AttributeValue::L(l.iter().map(to_attribute).collect()),
        Value::M(m) => AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), to_attribute(v))).collect()),
    }
}

fn from_attribute(value: &AttributeValue) -> Result<Value, StoreError> {
    Ok(match value {
        AttributeValue::S(s) => Value::S(s.clone()),
        AttributeValue::N(n) => {
            Value::N(n.parse().map_err(|_| StoreError::Decode(format!("number {n} is not an integer")))?)
        }
        AttributeValue::B(b) => Value::B(b.as_ref().to_vec()),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(l) => Value::L(l.iter().map(from_attribute).collect::<Result<_, _>>()?),
        AttributeValue::M(m) => Value::M(
            m.iter().map(|(k, v)| Ok((k.clone(), from_attribute(v)?))).collect::<Result<_, StoreError>>()?,
        ),
        other => return Err(StoreError::Decode(format!("unsupported attribute type {other:?}"))),
    })
}

fn to_map(item: &Item) -> AttributeMap {
    item.iter().map(|(k, v)| (k.clone(), to_attribute(v))).collect()
}

fn from_map(map: &AttributeMap) -> Result<Item, StoreError> {
    map.iter().map(|(k, v)| Ok((k.clone(), from_attribute(v)?))).collect()
}

fn key_map(key: &Key) -> AttributeMap {
    HashMap::from([
        (attr::PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (attr::SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// Decodes an item that DynamoDB returned, hiding it if its TTL has passed.
fn live_item(map: &AttributeMap, now: i64) -> Result<Option<Item>, StoreError> {
    let item = from_map(map)?;
    Ok((!item.is_expired(now)).then_some(item))
}

// ---------------------------------------------------------------------------------------------
// Expressions

/// Collects placeholder names and values while rendering expressions.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: AttributeMap,
}

impl Expr {
    fn name(&mut self, attribute: &str) -> String {
        let next = format!("#n{}", self.names.len());
        // One placeholder per attribute.
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| a.as_str() == attribute) {
            return placeholder.clone();
        }
        self.names.insert(next.clone(), attribute.to_owned());
        next
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    /// Renders a condition; the flag says whether it is compound (AND/OR at the top), which is
    /// when a parent must parenthesise it. DynamoDB refuses redundant parentheses.
    fn rendered(&mut self, condition: &Condition) -> (String, bool) {
        let mut cmp = |name: &str, op: &str, value: &Value| {
            (format!("{} {op} {}", self.name(name), self.value(to_attribute(value))), false)
        };
        match condition {
            Condition::Exists => (format!("attribute_exists({})", self.name(attr::PK)), false),
            Condition::NotExists => (format!("attribute_not_exists({})", self.name(attr::PK)), false),
            Condition::AttrExists(n) => (format!("attribute_exists({})", self.name(n)), false),
            Condition::AttrNotExists(n) => (format!("attribute_not_exists({})", self.name(n)), false),
            Condition::Eq(n, v) => cmp(n, "=", v),
            // DynamoDB's `<>` is false for an absent attribute; the port says "absent or
            // different", so spell that out.
            Condition::Ne(n, v) => {
                let name = self.name(n);
                let value = self.value(to_attribute(v));
                (format!("attribute_not_exists({name}) OR {name} <> {value}"), true)
            }
            Condition::Lt(n, v) => cmp(n, "<", v),
            Condition::Le(n, v) => cmp(n, "<=", v),
            Condition::Gt(n, v) => cmp(n, ">", v),
            Condition::Ge(n, v) => cmp(n, ">=", v),
            // Empty AND is true, empty OR is false, as in logic.
            Condition::And(all) if all.is_empty() => {
                self.rendered(&Condition::Or(vec![Condition::Exists, Condition::NotExists]))
            }
            Condition::Or(any) if any.is_empty() => {
                self.rendered(&Condition::And(vec![Condition::Exists, Condition::NotExists]))
            }
            Condition::And(parts) | Condition::Or(parts) if parts.len() == 1 => self.rendered(&parts[0]),
            Condition::And(parts) | Condition::Or(parts) => {
                let joiner = if matches!(condition, Condition::And(_)) { " AND " } else { " OR " };
                let rendered: Vec<String> = parts.iter().map(|c| self.operand(c)).collect();
                (rendered.join(joiner), true)
            }
            Condition::Not(c) => (format!("NOT {}", self.operand(c)), false),
        }
    }

    /// A condition as an operand: parenthesised only when compound.
    fn operand(&mut self, condition: &Condition) -> String {
        match self.rendered(condition) {
            (text, true) => format!("({text})"),
            (text, false) => text,
        }
    }

    /// The condition as DynamoDB must evaluate it for expired items to count as absent: an
    /// expired item satisfies it exactly when an absent item would.
    fn condition_with_ttl(&mut self, condition: &Condition, now: i64) -> String {
        let rendered = self.operand(condition);
        let ttl = self.name(attr::TTL);
        let now = self.value(AttributeValue::N(now.to_string()));
        let alive = format!("(attribute_not_exists({ttl}) OR {ttl} > {now})");
        if condition.evaluate(None) {
            format!("{rendered} OR NOT {alive}")
        } else {
            format!("{rendered} AND {alive}")
        }
    }

    /// The condition of an update: the caller's (with the TTL rule) and a guard that the item
    /// is absent or alive, so an update never applies to an expired item's stale attributes.
    /// When the guard fails, the adapter rewrites the update as a put of a fresh item.
    fn update_condition(&mut self, condition: Option<&Condition>, now: i64) -> String {
        let pk = self.name(attr::PK);
        let ttl = self.name(attr::TTL);
        let now_value = self.value(AttributeValue::N(now.to_string()));
        let guard =
            format!("(attribute_not_exists({pk}) OR attribute_not_exists({ttl}) OR {ttl} > {now_value})");
        match condition {
            Some(c) => format!("({}) AND {guard}", self.condition_with_ttl(c, now)),
            None => guard,
        }
    }

    fn update(&mut self, actions: &[UpdateAction]) -> String {
        let mut set = Vec::new();
        let mut add = Vec::new();
        let mut remove = Vec::new();
        for action in actions {
            match action {
                UpdateAction::Set(n, v) => {
                    set.push(format!("{} = {}", self.name(n), self.value(to_attribute(v))));
                }
                UpdateAction::SetIfNotExists(n, v) => {
                    let name = self.name(n);
                    let value = self.value(to_attribute(v));
                    set.push(format!("{name} = if_not_exists({name}, {value})"));
                }
                UpdateAction::Add(n, delta) => {
                    add.push(format!(
                        "{} {}",
                        self.name(n),
                        self.value(AttributeValue::N(delta.to_string()))
                    ));
                }
                UpdateAction::Remove(n) => remove.push(self.name(n)),
            }
        }
        let mut clauses = Vec::new();
        if !set.is_empty() {
            clauses.push(format!("SET {}", set.join(", ")));
        }
        if !add.is_empty() {
            clauses.push(format!("ADD {}", add.join(", ")));
        }
        if !remove.is_empty() {
            clauses.push(format!("REMOVE {}", remove.join(", ")));
        }
        clauses.join(" ")
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<AttributeMap> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

fn sort_condition(expr: &mut Expr, sk_attr: &str, sort: &SortKey) -> String {
    let name = expr.name(sk_attr);
    let mut value = |v: &str| expr.value(AttributeValue::S(v.to_owned()));
    match sort {
        SortKey::Eq(v) => format!("{name} = {}", value(v)),
        SortKey::BeginsWith(p) => format!("begins_with({name}, {})", value(p)),
        SortKey::Between(a, b) => {
            let a = value(a);
            let b = value(b);
            format!("{name} BETWEEN {a} AND {b}")
        }
        SortKey::Lt(v) => format!("{name} < {}", value(v)),
        SortKey::Le(v) => format!("{name} <= {}", value(v)),
        SortKey::Gt(v) => format!("{name} > {}", value(v)),
        SortKey::Ge(v) => format!("{name} >= {}", value(v)),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

fn classify<E, R>(error: SdkError<E, R>) -> Result<E, StoreError>
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match error {
        SdkError::ServiceError(e) => Ok(e.into_err()),
        SdkError::TimeoutError(_) => Err(StoreError::Unavailable("timeout".into())),
        other @ (SdkError::DispatchFailure(_) | SdkError::ResponseError(_)) => {
            Err(StoreError::Unavailable(Box::new(other)))
        }
        other => Err(StoreError::Internal(Box::new(other))),
    }
}

/// Maps DynamoDB's error codes that mean the same thing whatever the operation.
fn common(code: Option<&str>, message: String) -> StoreError {
    match code {
        Some("ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded") => {
            StoreError::Throttled
        }
        Some("TransactionConflictException") => StoreError::TransactionConflict,
        // A transaction with our token is still running: it may yet commit, so its outcome is
        // unknown, and resending it under a new token could apply it twice.
        Some("TransactionInProgressException") => StoreError::Unavailable(message.into()),
        // An update that would grow an item past 400 KB: only DynamoDB can tell.
        Some("ValidationException") if message.contains("Item size") => {
            StoreError::ItemTooLarge { index: 0, size: 0 }
        }
        Some("ValidationException") => StoreError::Invalid(message),
        Some("ResourceNotFoundException") => StoreError::Unavailable(message.into()),
        _ => StoreError::Internal(message.into()),
    }
}

fn service_error<E>(error: E) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::fmt::Display,
{
    let code = error.code().map(str::to_owned);
    let message =
        format!("{}: {}", code.as_deref().unwrap_or("unknown"), error.message().unwrap_or_default());
    common(code.as_deref(), message)
}

/// The TTL of a returned item if it has expired (and so should have been absent).
fn expired_ttl(item: Option<&AttributeMap>, now: i64) -> Option<i64> {
    let ttl = item?.get(attr::TTL)?.as_n().ok()?.parse::<i64>().ok()?;
    (ttl <= now).then_some(ttl)
}

/// A transaction put of `item` over an expired item still carrying `ttl`.
fn replace_expired_item(table: &str, item: &Item, ttl: i64) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(to_map(item)))
                .condition_expression("#ttl = :expired")
                .expression_attribute_names("#ttl", attr::TTL)
                .expression_attribute_values(":expired", AttributeValue::N(ttl.to_string()))
                .build()
                .map_err(build_error)?,
        )
        .build())
}

/// Configuration for single writes that are not idempotent (a conditional create, an ADD): no
/// SDK retries, because a timeout does not say whether the first attempt was applied. Throttling
/// (never applied) is retried by `Store` above us; anything else reaches the caller.
fn no_retries() -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::default()
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
}

/// A failed condition on write `index`, with the item as DynamoDB returned it (if still live).
fn condition_failed(index: usize, item: Option<&AttributeMap>, now: i64) -> StoreError {
    let current = item.and_then(|m| live_item(m, now).ok().flatten()).map(Box::new);
    StoreError::ConditionFailed { index, current }
}

/// Maps a cancelled transaction's reasons, item by item: a failed condition names its write;
/// otherwise a conflict or throttling is retryable; anything else is internal.
fn cancellation(reasons: &[CancellationReason], now: i64) -> StoreError {
    for (index, reason) in reasons.iter().enumerate() {
        if reason.code() == Some("ConditionalCheckFailed") {
            return condition_failed(index, reason.item(), now);
        }
    }
    for (index, reason) in reasons.iter().enumerate() {
        if reason.code() == Some("ValidationError")
            && reason.message().is_some_and(|m| m.contains("Item size"))
        {
            return StoreError::ItemTooLarge { index, size: 0 };
        }
    }
    let codes: Vec<&str> = reasons.iter().filter_map(CancellationReason::code).collect();
    if codes.contains(&"TransactionConflict") {
        StoreError::TransactionConflict
    } else if codes.iter().any(|c| matches!(*c, "ThrottlingError" | "ProvisionedThroughputExceeded")) {
        StoreError::Throttled
    } else {
        StoreError::Internal(format!("transaction cancelled: {codes:?}").into())
    }
}

pub(crate) fn build_error(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Internal(Box::new(e))
}

// ---------------------------------------------------------------------------------------------
// Writes

fn transact_item(table: &str, op: &WriteOp, now: i64) -> Result<TransactWriteItem, StoreError> {
    let mut expr = Expr::default();
    let condition = match op {
        WriteOp::Update { condition, .. } => Some(expr.update_condition(condition.as_ref(), now)),
        _ => op.condition().map(|c| expr.condition_with_ttl(c, now)),
    };
    let on_fail = ReturnValuesOnConditionCheckFailure::AllOld;
    Ok(match op {
        WriteOp::Put { item, .. } => TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(table)
                    .set_item(Some(to_map(item)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(on_fail)
                    .build()
                    .map_err(build_error)?,
            )
            .build(),
        WriteOp::Update { key, actions, .. } => {
            let update = expr.update(actions);
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(table)
                        .set_key(Some(key_map(key)))
                        .update_expression(update)
                        .set_condition_expression(condition)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .return_values_on_condition_check_failure(on_fail)
                        .build()
                        .map_err(build_error)?,
                )
                .build()
        }
        WriteOp::Delete { key, .. } => TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name(table)
                    .set_key(Some(key_map(key)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(on_fail)
                    .build()
                    .map_err(build_error)?,
            )
            .build(),
        WriteOp::Check { key, .. } => TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name(table)
                    .set_key(Some(key_map(key)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .return_values_on_condition_check_failure(on_fail)
                    .build()
                    .map_err(build_error)?,
            )
            .build(),
    })
}

impl DynamoStore {
    async fn put(&self, item: &Item, condition: Option<&Condition>, now: i64) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::operation::put_item::PutItemError;
        let mut expr = Expr::default();
        let condition = condition.map(|c| expr.condition_with_ttl(c, now));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_map(item)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .customize()
            .config_override(no_retries())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(match classify(e)? {
                PutItemError::ConditionalCheckFailedException(e) => condition_failed(0, e.item(), now),
                other => service_error(other),
            }),
        }
    }

    async fn update(
        &self,
        key: &Key,
        actions: &[UpdateAction],
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Option<Item>, StoreError> {
        use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
        let mut expr = Expr::default();
        let update = expr.update(actions);
        let guarded = expr.update_condition(condition, now);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .update_expression(update)
            .condition_expression(guarded)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .customize()
            .config_override(no_retries())
            .send()
            .await;
        match result {
            Ok(out) => out.attributes().map(from_map).transpose(),
            Err(e) => match classify(e)? {
                UpdateItemError::ConditionalCheckFailedException(e) => match expired_ttl(e.item(), now) {
                    // The item had expired: update it as an absent one, if the condition allows.
                    Some(ttl) if condition.is_none_or(|c| c.evaluate(None)) => {
                        let fresh = apply_update(None, key, actions)?;
                        self.replace_expired(&fresh, ttl).await?;
                        Ok(Some(fresh))
                    }
                    _ => Err(condition_failed(0, e.item(), now)),
                },
                other => Err(service_error(other)),
            },
        }
    }

    /// Puts `item` over an expired item still carrying `ttl` (and nothing newer).
    async fn replace_expired(&self, item: &Item, ttl: i64) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::operation::put_item::PutItemError;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_map(item)))
            .condition_expression("#ttl = :expired")
            .expression_attribute_names("#ttl", attr::TTL)
            .expression_attribute_values(":expired", AttributeValue::N(ttl.to_string()))
            .customize()
            .config_override(no_retries())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Someone wrote it meanwhile: that is a conflict like any other, retried above us.
            Err(e) => Err(match classify(e)? {
                PutItemError::ConditionalCheckFailedException(_) => StoreError::TransactionConflict,
                other => service_error(other),
            }),
        }
    }

    async fn delete(&self, key: &Key, condition: Option<&Condition>, now: i64) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
        let mut expr = Expr::default();
        let condition = condition.map(|c| expr.condition_with_ttl(c, now));
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .customize()
            .config_override(no_retries())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(match classify(e)? {
                DeleteItemError::ConditionalCheckFailedException(e) => condition_failed(0, e.item(), now),
                other => service_error(other),
            }),
        }
    }
}

#[async_trait]
impl StoreBackend for DynamoStore {
    async fn get(&self, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
        let result = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await;
        match result {
            Ok(out) => match out.item() {
                Some(map) => live_item(map, now),
                None => Ok(None),
            },
            Err(e) => Err(service_error(classify(e)?)),
        }
    }

    async fn get_many(&self, keys: &[Key], now: i64) -> Result<Vec<Item>, StoreError> {
        let mut pending: Vec<AttributeMap> = keys.iter().map(key_map).collect();
        let mut found = Vec::with_capacity(keys.len());
        let mut attempt = 0u32;
        while !pending.is_empty() {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(build_error)?;
            let out = self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(
                |e| match classify(e) {
                    Ok(service) => service_error(service),
                    Err(e) => e,
                },
            )?;
            if let Some(items) = out.responses().and_then(|r| r.get(&self.table)) {
                for map in items {
                    if let Some(item) = live_item(map, now)? {
                        found.push(item);
                    }
                }
            }
            pending = out
                .unprocessed_keys()
                .and_then(|u| u.get(&self.table))
                .map(|k| k.keys().to_vec())
                .unwrap_or_default();
            if !pending.is_empty() {
                attempt += 1;
                if attempt > 5 {
                    return Err(StoreError::Throttled);
                }
                tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
            }
        }
        Ok(found)
    }

    async fn query(&self, query: &Query, now: i64) -> Result<Page, StoreError> {
        let (pk_attr, sk_attr) = match query.index {
            None => (attr::PK, attr::SK),
            Some(index) => index.key_attributes(),
        };
        let mut expr = Expr::default();
        let mut key_condition =
            format!("{} = {}", expr.name(pk_attr), expr.value(AttributeValue::S(query.pk.clone())));
        if let Some(sort) = &query.sort {
            key_condition = format!("{key_condition} AND {}", sort_condition(&mut expr, sk_attr, sort));
        }
        let ttl = expr.name(attr::TTL);
        let now_value = expr.value(AttributeValue::N(now.to_string()));
        let filter = format!("attribute_not_exists({ttl}) OR {ttl} > {now_value}");
        let start = query.cursor.as_ref().map(|c| {
            let mut start = key_map(&Key::new(c.pk.clone(), c.sk.clone()));
            if let (Some(index), Some((ipk, isk))) = (query.index, &c.index_key) {
                let (a, b) = index.key_attributes();
                start.insert(a.to_owned(), AttributeValue::S(ipk.clone()));
                start.insert(b.to_owned(), AttributeValue::S(isk.clone()));
            }
            start
        });
        let limit = query.limit as usize;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(query.index.map(|i| i.name().to_owned()))
            .key_condition_expression(key_condition)
            .filter_expression(filter)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .scan_index_forward(query.order == Order::Ascending)
            .consistent_read(query.index.is_none())
            // One item beyond the page tells whether there is a next page.
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| match classify(e) {
                Ok(service) => service_error(service),
                Err(e) => e,
            })?;
        let mut items = out.items().iter().map(from_map).collect::<Result<Vec<_>, _>>()?;
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().and_then(|last| Cursor::after(last, query.index))
        } else {
            match out.last_evaluated_key() {
                Some(lek) => Some(cursor_from_key(lek, query.index)?),
                None => None,
            }
        };
        Ok(Page { items, next })
    }

    async fn write(&self, op: &WriteOp, now: i64) -> Result<Option<Item>, StoreError> {
        match op {
            WriteOp::Put { item, condition } => self.put(item, condition.as_ref(), now).await.map(|()| None),
            WriteOp::Update { key, actions, condition } => {
                self.update(key, actions, condition.as_ref(), now).await
            }
            WriteOp::Delete { key, condition } => {
                self.delete(key, condition.as_ref(), now).await.map(|()| None)
            }
            // DynamoDB has no single condition check; a transaction of one is the same thing.
            WriteOp::Check { .. } => self.transact(std::slice::from_ref(op), now).await.map(|()| None),
        }
    }

    async fn transact(&self, ops: &[WriteOp], now: i64) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        // Updates whose item turned out to be expired, rewritten as puts of a fresh item.
        let mut fresh: Vec<Option<(Item, i64)>> = vec![None; ops.len()];
        for _ in 0..3 {
            let items = ops
                .iter()
                .zip(&fresh)
                .map(|(op, replacement)| match replacement {
                    Some((item, ttl)) => replace_expired_item(&self.table, item, *ttl),
                    None => transact_item(&self.table, op, now),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                // The SDK's own retries of this call then cannot apply it twice.
                .client_request_token(ulid::Ulid::generate().to_string())
                .send()
                .await;
            let reasons = match result {
                Ok(_) => return Ok(()),
                Err(e) => match classify(e)? {
                    TransactWriteItemsError::TransactionCanceledException(e) => {
                        e.cancellation_reasons().to_vec()
                    }
                    other => return Err(service_error(other)),
                },
            };
            let expired_update = reasons.iter().enumerate().find_map(|(index, reason)| {
                let failed = reason.code() == Some("ConditionalCheckFailed");
                match (&ops[index], failed, expired_ttl(reason.item(), now)) {
                    (WriteOp::Update { key, actions, condition }, true, Some(ttl))
                        if fresh[index].is_none() =>
                    {
                        Some((index, key, actions, condition, ttl))
                    }
                    _ => None,
                }
            });
            match expired_update {
                Some((index, key, actions, condition, ttl))
                    if condition.as_ref().is_none_or(|c| c.evaluate(None)) =>
                {
                    fresh[index] = Some((apply_update(None, key, actions)?, ttl));
                }
                Some((index, ..)) => return Err(StoreError::ConditionFailed { index, current: None }),
                None => return Err(cancellation(&reasons, now)),
            }
        }
        Err(StoreError::TransactionConflict)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // A read of a key that never exists: needs only the GetItem permission handlers have.
        self.get(&Key::new("HEALTH", "PING"), 0).await.map(|_| ())
    }
}

fn cursor_from_key(lek: &AttributeMap, index: Option<Index>) -> Result<Cursor, StoreError> {
    let text = |name: &str| match lek.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(StoreError::Decode(format!("last evaluated key without {name}"))),
    };
    let index_key = match index {
        None => None,
        Some(i) => {
            let (a, b) = i.key_attributes();
            Some((text(a)?, text(b)?))
        }
    };
    Ok(Cursor { pk: text(attr::PK)?, sk: text(attr::SK)?, index_key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_use_placeholders_once_per_attribute() {
        let mut expr = Expr::default();
        let (rendered, _) = expr.rendered(&Condition::And(vec![
            Condition::eq("status", "a"),
            Condition::Ne("status".into(), Value::S("b".into())),
        ]));
        assert_eq!(rendered, "#n0 = :v0 AND (attribute_not_exists(#n0) OR #n0 <> :v1)");
        let mut expr = Expr::default();
        let negated = expr.operand(&Condition::Not(Box::new(Condition::Exists)));
        assert_eq!(negated, "NOT attribute_exists(#n0)");
        assert_eq!(expr.names().map(|n| n.len()), Some(1));
    }

    #[test]
    fn ttl_wrapping_follows_the_absent_case() {
        let mut expr = Expr::default();
        let create = expr.condition_with_ttl(&Condition::NotExists, 7);
        assert!(create.ends_with("OR NOT (attribute_not_exists(#n1) OR #n1 > :v0)"), "{create}");
        let mut expr = Expr::default();
        let exists = expr.condition_with_ttl(&Condition::Exists, 7);
        assert!(exists.ends_with("AND (attribute_not_exists(#n1) OR #n1 > :v0)"), "{exists}");
    }

    #[test]
    fn updates_render_all_clauses() {
        let mut expr = Expr::default();
        let update = expr.update(&[
            UpdateAction::Set("a".into(), Value::N(1)),
            UpdateAction::SetIfNotExists("b".into(), Value::N(2)),
            UpdateAction::Add("c".into(), 3),
            UpdateAction::Remove("d".into()),
        ]);
        assert_eq!(update, "SET #n0 = :v0, #n1 = if_not_exists(#n1, :v1) ADD #n2 :v2 REMOVE #n3");
    }

    #[test]
    fn values_round_trip() {
        let value = Value::M(
            [(
                "l".to_owned(),
                Value::L(vec![Value::N(-3), Value::Null, Value::Bool(true), Value::B(vec![1])]),
            )]
            .into_iter()
            .collect(),
        );
        assert_eq!(from_attribute(&to_attribute(&value)).ok(), Some(value));
        assert!(from_attribute(&AttributeValue::N("1.5".into())).is_err());
    }

    #[test]
    fn cancellation_reasons_map_item_by_item() {
        let reason = |code: &str| CancellationReason::builder().code(code).build();
        let failed = cancellation(&[reason("None"), reason("ConditionalCheckFailed")], 0);
        assert!(failed.is_condition_failed_at(1));
        let conflict = cancellation(&[reason("None"), reason("TransactionConflict")], 0);
        assert!(matches!(conflict, StoreError::TransactionConflict));
        let throttled = cancellation(&[reason("ThrottlingError")], 0);
        assert!(matches!(throttled, StoreError::Throttled));
        let other = cancellation(&[reason("ValidationError")], 0);
        assert!(matches!(other, StoreError::Internal(_)));
    }
}
