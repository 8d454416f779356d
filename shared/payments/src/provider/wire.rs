//! Stripe's JSON for the objects Atelier reads (payment intents, refunds, events), both ways:
//! the Stripe adapter and webhooks read it, the mock writes it. Only the fields used.

use std::collections::BTreeMap;

use atelier_platform::payments::{Intent, IntentStatus, ProviderEvent, ProviderRefund, RefundStatus};
use serde_json::{Value, json};

fn metadata(object: &Value) -> BTreeMap<String, String> {
    object
        .get("metadata")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default()
}

fn text(object: &Value, field: &str) -> Option<String> {
    object.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn number(object: &Value, field: &str) -> i64 {
    object.get(field).and_then(Value::as_i64).unwrap_or(0)
}

/// A payment intent from its JSON; `None` when it is not one.
pub fn intent(object: &Value) -> Option<Intent> {
    if object.get("object").and_then(Value::as_str) != Some("payment_intent") {
        return None;
    }
    let status = IntentStatus::parse(object.get("status")?.as_str()?)?;
    Some(Intent {
        id: text(object, "id")?,
        client_secret: text(object, "client_secret"),
        status,
        amount: number(object, "amount"),
        // Older API versions (and localstripe) leave `amount_received` out: a succeeded intent
        // received its amount.
        amount_received: object
            .get("amount_received")
            .and_then(Value::as_i64)
            .unwrap_or(if status == IntentStatus::Succeeded { number(object, "amount") } else { 0 }),
        currency: text(object, "currency")?.to_lowercase(),
        metadata: metadata(object),
        last_error: object
            .get("last_payment_error")
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        created: number(object, "created"),
    })
}

/// A refund from its JSON; `None` when it is not one.
pub fn refund(object: &Value) -> Option<ProviderRefund> {
    if object.get("object").and_then(Value::as_str) != Some("refund") {
        return None;
    }
    Some(ProviderRefund {
        id: text(object, "id")?,
        intent_id: text(object, "payment_intent").unwrap_or_default(),
        amount: number(object, "amount"),
        currency: text(object, "currency")?.to_lowercase(),
        status: RefundStatus::parse(object.get("status")?.as_str()?)?,
        metadata: metadata(object),
        created: number(object, "created"),
    })
}

/// An event from its JSON; `None` when it is not one.
pub fn event(value: &Value) -> Option<ProviderEvent> {
    Some(ProviderEvent {
        id: text(value, "id")?,
        kind: text(value, "type")?,
        created: number(value, "created"),
        object: value.get("data")?.get("object")?.clone(),
    })
}

/// An intent as Stripe writes it.
pub fn intent_json(intent: &Intent) -> Value {
    json!({
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount,
        "amount_received": intent.amount_received,
        "currency": intent.currency,
        "status": intent.status.as_str(),
        "client_secret": intent.client_secret,
        "metadata": intent.metadata,
        "created": intent.created,
        "livemode": false,
        "last_payment_error": intent.last_error.as_ref().map(|m| json!({ "message": m })),
    })
}

/// A refund as Stripe writes it.
pub fn refund_json(refund: &ProviderRefund) -> Value {
    let status = match refund.status {
        RefundStatus::Pending => "pending",
        RefundStatus::Succeeded => "succeeded",
        RefundStatus::Failed => "failed",
        RefundStatus::Canceled => "canceled",
    };
    json!({
        "id": refund.id,
        "object": "refund",
        "amount": refund.amount,
        "currency": refund.currency,
        "payment_intent": refund.intent_id,
        "status": status,
        "metadata": refund.metadata,
        "created": refund.created,
    })
}

/// An event as Stripe writes it (and posts it to webhooks).
pub fn event_json(event: &ProviderEvent) -> Value {
    json!({
        "id": event.id,
        "object": "event",
        "type": event.kind,
        "created": event.created,
        "livemode": false,
        "api_version": "2024-06-20",
        "data": { "object": event.object },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_round_trip_through_stripes_json() {
        let intent = Intent {
            id: "pi_1".into(),
            client_secret: Some("pi_1_secret_x".into()),
            status: IntentStatus::Succeeded,
            amount: 3000,
            amount_received: 3000,
            currency: "eur".into(),
            metadata: [("payment_id".to_owned(), "p1".to_owned())].into(),
            last_error: None,
            created: 5,
        };
        assert_eq!(super::intent(&intent_json(&intent)), Some(intent.clone()));
        let refund = ProviderRefund {
            id: "re_1".into(),
            intent_id: "pi_1".into(),
            amount: 100,
            currency: "eur".into(),
            status: RefundStatus::Succeeded,
            metadata: BTreeMap::new(),
            created: 6,
        };
        assert_eq!(super::refund(&refund_json(&refund)), Some(refund.clone()));
        let event = ProviderEvent {
            id: "evt_1".into(),
            kind: "refund.created".into(),
            created: 7,
            object: refund_json(&refund),
        };
        assert_eq!(super::event(&event_json(&event)), Some(event));
        assert_eq!(super::intent(&json!({"object": "refund"})), None);
    }
}
