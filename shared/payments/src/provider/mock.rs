//! An in-process provider that behaves like Stripe where Atelier depends on it, and where the
//! emulators do not (localstripe ignores idempotency keys, accepts over-refunds and sends no
//! refund events): idempotency keys bound to their parameters, refunds never above what was
//! received, an event for every change, signed webhooks exactly as Stripe signs them.
//!
//! Test payment methods: `pm_card_visa` succeeds; `pm_card_chargeDeclined` (and
//! `pm_card_visa_chargeDeclined`) is declined; `pm_card_authenticationRequired` needs the
//! client's action; `pm_card_late` is processing and succeeds later ([`MockProvider::settle_late`],
//! or by itself after a delay when the mock delivers its own webhooks).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use atelier_platform::clock::Clock;
use atelier_platform::payments::{
    EventPage, Intent, IntentStatus, NewIntent, NewRefund, PaymentProvider, ProviderError, ProviderEvent,
    ProviderRefund, RefundStatus,
};
use bytes::Bytes;
use http_body_util::Full;

use super::{stripe, wire};
use crate::signature;

/// The secret the mock signs with unless told otherwise.
pub const DEFAULT_SECRET: &str = "whsec_atelier_mock";

#[derive(Default)]
struct State {
    seq: u64,
    intents: BTreeMap<String, Intent>,
    /// Idempotency key → (fingerprint of the parameters, object id).
    keys: HashMap<String, (String, String)>,
    refunds: BTreeMap<String, ProviderRefund>,
    events: Vec<ProviderEvent>,
    undelivered: Vec<ProviderEvent>,
    late: Vec<String>,
    down: bool,
    delay: Option<Duration>,
}

/// The mock provider.
pub struct MockProvider {
    state: Mutex<State>,
    secret: String,
    clock: Arc<dyn Clock>,
    /// Where to post webhooks by itself (the local server's own URL), and after how long a
    /// late payment settles.
    deliver_to: Mutex<Option<(String, Duration)>>,
    /// Itself, for the tasks that settle late payments.
    me: std::sync::Weak<MockProvider>,
}

impl std::fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockProvider").finish_non_exhaustive()
    }
}

impl MockProvider {
    /// A mock signing with `secret`, dating events by `clock`.
    pub fn new(secret: &str, clock: Arc<dyn Clock>) -> Arc<MockProvider> {
        Arc::new_cyclic(|me| MockProvider {
            state: Mutex::new(State::default()),
            secret: secret.to_owned(),
            clock,
            deliver_to: Mutex::new(None),
            me: me.clone(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now(&self) -> i64 {
        self.clock.now().as_second()
    }

    /// Posts every event to `url` by itself (the local server), settling late payments after
    /// `late_after`.
    pub fn deliver_to(&self, url: &str, late_after: Duration) {
        *self.deliver_to.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((url.to_owned(), late_after));
    }

    /// Makes every call fail as unavailable (`true`) or work again.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// Makes every call take `delay` first.
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.lock().delay = delay;
    }

    /// The events not yet taken, oldest first (tests post them to the webhook route).
    pub fn take_events(&self) -> Vec<ProviderEvent> {
        std::mem::take(&mut self.lock().undelivered)
    }

    /// An event as its webhook request would carry it: the body and the `Stripe-Signature`.
    pub fn signed(&self, event: &ProviderEvent) -> (Vec<u8>, String) {
        let body = wire::event_json(event).to_string().into_bytes();
        let header = signature::header(&[&self.secret], self.now(), &body);
        (body, header)
    }

    /// The intent `id`, as the mock holds it.
    pub fn intent(&self, id: &str) -> Option<Intent> {
        self.lock().intents.get(id).cloned()
    }

    /// Makes a refund fail after it succeeded (a closed card account), with its event.
    pub fn fail_refund(&self, id: &str) {
        let mut state = self.lock();
        let Some(refund) = state.refunds.get_mut(id) else { return };
        refund.status = RefundStatus::Failed;
        let object = wire::refund_json(refund);
        let event = self.event_in(&mut state, "refund.failed", object);
        drop(state);
        self.deliver(event);
    }

    /// How many intents were created.
    pub fn intent_count(&self) -> usize {
        self.lock().intents.len()
    }

    /// Refunds of `intent_id`.
    pub fn refunds_of(&self, intent_id: &str) -> Vec<ProviderRefund> {
        self.lock().refunds.values().filter(|r| r.intent_id == intent_id).cloned().collect()
    }

    /// Settles every late payment: each succeeds, with its event.
    pub fn settle_late(&self) -> usize {
        let ids = std::mem::take(&mut self.lock().late);
        for id in &ids {
            self.settle(id);
        }
        ids.len()
    }

    fn settle(&self, id: &str) {
        let mut state = self.lock();
        let Some(intent) = state.intents.get_mut(id) else { return };
        if intent.status != IntentStatus::Processing {
            return;
        }
        intent.status = IntentStatus::Succeeded;
        intent.amount_received = intent.amount;
        let object = wire::intent_json(intent);
        let event = self.event_in(&mut state, "payment_intent.succeeded", object);
        drop(state);
        self.deliver(event);
    }

    fn event_in(&self, state: &mut State, kind: &str, object: serde_json::Value) -> ProviderEvent {
        state.seq += 1;
        let event = ProviderEvent {
            id: format!("evt_mock_{:06}", state.seq),
            kind: kind.to_owned(),
            created: self.now(),
            object,
        };
        state.events.push(event.clone());
        state.undelivered.push(event.clone());
        event
    }

    fn deliver(&self, event: ProviderEvent) {
        let target = self.deliver_to.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let Some((url, _)) = target else { return };
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
        self.lock().undelivered.retain(|e| e.id != event.id);
        let (body, header) = self.signed(&event);
        handle.spawn(async move {
            let client = stripe::http_client(Duration::from_secs(5));
            // Stripe retries for days; the mock tries a few times, a second apart.
            for _ in 0..5 {
                let request = http::Request::post(&url)
                    .header("content-type", "application/json")
                    .header("stripe-signature", &header)
                    .body(Full::new(Bytes::from(body.clone())));
                let Ok(request) = request else { return };
                match stripe::exchange(&client, request, Duration::from_secs(10), "posting a mock webhook")
                    .await
                {
                    Ok((status, _)) if (200..300).contains(&status) => return,
                    outcome => {
                        tracing::warn!(event = %event.id, ?outcome, "mock webhook not accepted; retrying")
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    async fn gate(&self) -> Result<(), ProviderError> {
        let (down, delay) = {
            let state = self.lock();
            (state.down, state.delay)
        };
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        if down {
            return Err(ProviderError::unavailable("calling the mock provider", "the mock provider is down"));
        }
        Ok(())
    }
}

/// The object a used idempotency key made, as Stripe answers a retry; the same key with other
/// parameters is refused, as Stripe refuses it.
fn replayed(state: &State, key: &str, fingerprint: &str) -> Result<Option<String>, ProviderError> {
    match state.keys.get(key) {
        Some((seen, _)) if seen != fingerprint => Err(ProviderError::Refused(
            "Keys for idempotent requests can only be used with the same parameters they were first used with".into(),
        )),
        Some((_, id)) => Ok(Some(id.clone())),
        None => Ok(None),
    }
}

#[async_trait]
impl PaymentProvider for MockProvider {
    fn name(&self) -> &'static str {
        "mock"
    }

    async fn webhook_secrets(&self) -> Result<Vec<String>, ProviderError> {
        Ok(vec![self.secret.clone()])
    }

    async fn create_intent(&self, new: &NewIntent) -> Result<Intent, ProviderError> {
        self.gate().await?;
        if new.amount <= 0 {
            return Err(ProviderError::Refused("amount must be positive".into()));
        }
        let fingerprint = format!("intent:{}:{}:{:?}", new.amount, new.currency, new.metadata);
        let mut state = self.lock();
        if let Some(id) = replayed(&state, &new.idempotency_key, &fingerprint)? {
            return state
                .intents
                .get(&id)
                .cloned()
                .ok_or_else(|| ProviderError::Refused("lost intent".into()));
        }
        state.seq += 1;
        let id = format!("pi_mock_{:06}", state.seq);
        let intent = Intent {
            client_secret: Some(format!("{id}_secret_{:06}", state.seq)),
            id: id.clone(),
            status: IntentStatus::RequiresPaymentMethod,
            amount: new.amount,
            amount_received: 0,
            currency: new.currency.clone(),
            metadata: new.metadata.clone(),
            last_error: None,
            created: self.now(),
        };
        state.intents.insert(id.clone(), intent.clone());
        state.keys.insert(new.idempotency_key.clone(), (fingerprint, id));
        Ok(intent)
    }

    async fn retrieve_intent(&self, id: &str) -> Result<Intent, ProviderError> {
        self.gate().await?;
        self.intent(id).ok_or_else(|| ProviderError::Refused(format!("No such payment_intent: '{id}'")))
    }

    async fn confirm_intent(&self, id: &str, payment_method: &str) -> Result<Intent, ProviderError> {
        self.gate().await?;
        let mut state = self.lock();
        let Some(intent) = state.intents.get(id).cloned() else {
            return Err(ProviderError::Refused(format!("No such payment_intent: '{id}'")));
        };
        if !matches!(
            intent.status,
            IntentStatus::RequiresPaymentMethod
                | IntentStatus::RequiresConfirmation
                | IntentStatus::RequiresAction
        ) {
            return Err(ProviderError::Refused(format!(
                "This PaymentIntent's status is {}; it cannot be confirmed",
                intent.status.as_str()
            )));
        }
        let mut next = intent.clone();
        next.last_error = None;
        let (kind, declined) = match payment_method {
            "pm_card_visa" => {
                next.status = IntentStatus::Succeeded;
                next.amount_received = next.amount;
                ("payment_intent.succeeded", false)
            }
            "pm_card_chargeDeclined" | "pm_card_visa_chargeDeclined" => {
                next.status = IntentStatus::RequiresPaymentMethod;
                next.last_error = Some("Your card was declined.".into());
                ("payment_intent.payment_failed", true)
            }
            "pm_card_authenticationRequired" => {
                next.status = IntentStatus::RequiresAction;
                ("payment_intent.requires_action", false)
            }
            "pm_card_late" => {
                next.status = IntentStatus::Processing;
                state.late.push(id.to_owned());
                ("payment_intent.processing", false)
            }
            other => return Err(ProviderError::Refused(format!("No such PaymentMethod: '{other}'"))),
        };
        state.intents.insert(id.to_owned(), next.clone());
        let event = self.event_in(&mut state, kind, wire::intent_json(&next));
        drop(state);
        self.deliver(event);
        if payment_method == "pm_card_late" {
            let target = self.deliver_to.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            if let (Some((_, after)), Ok(handle)) = (target, tokio::runtime::Handle::try_current()) {
                // The local server's mock settles late payments by itself.
                let (me, id) = (self.me.clone(), id.to_owned());
                handle.spawn(async move {
                    tokio::time::sleep(after).await;
                    if let Some(me) = me.upgrade() {
                        me.settle(&id);
                    }
                });
            }
        }
        if declined {
            return Err(ProviderError::Declined {
                message: "Your card was declined.".into(),
                intent: Some(Box::new(next)),
            });
        }
        Ok(next)
    }

    async fn cancel_intent(&self, id: &str) -> Result<Intent, ProviderError> {
        self.gate().await?;
        let mut state = self.lock();
        let Some(intent) = state.intents.get_mut(id) else {
            return Err(ProviderError::Refused(format!("No such payment_intent: '{id}'")));
        };
        if matches!(
            intent.status,
            IntentStatus::Succeeded | IntentStatus::Processing | IntentStatus::Canceled
        ) {
            return Err(ProviderError::Refused(format!(
                "You cannot cancel this PaymentIntent because it has a status of {}",
                intent.status.as_str()
            )));
        }
        intent.status = IntentStatus::Canceled;
        let intent = intent.clone();
        let event = self.event_in(&mut state, "payment_intent.canceled", wire::intent_json(&intent));
        drop(state);
        self.deliver(event);
        Ok(intent)
    }

    async fn create_refund(&self, new: &NewRefund) -> Result<ProviderRefund, ProviderError> {
        self.gate().await?;
        let fingerprint = format!("refund:{}:{}", new.intent_id, new.amount);
        let mut state = self.lock();
        if let Some(id) = replayed(&state, &new.idempotency_key, &fingerprint)? {
            return state
                .refunds
                .get(&id)
                .cloned()
                .ok_or_else(|| ProviderError::Refused("lost refund".into()));
        }
        let Some(intent) = state.intents.get(&new.intent_id).cloned() else {
            return Err(ProviderError::Refused(format!("No such payment_intent: '{}'", new.intent_id)));
        };
        if intent.status != IntentStatus::Succeeded {
            return Err(ProviderError::Refused("This PaymentIntent has not been paid".into()));
        }
        let refunded: i64 = state
            .refunds
            .values()
            .filter(|r| r.intent_id == new.intent_id && r.status != RefundStatus::Failed)
            .map(|r| r.amount)
            .sum();
        if new.amount <= 0 || refunded + new.amount > intent.amount_received {
            return Err(ProviderError::Refused(format!(
                "Refund amount ({}) is greater than the unrefunded amount ({})",
                new.amount,
                intent.amount_received - refunded
            )));
        }
        state.seq += 1;
        let refund = ProviderRefund {
            id: format!("re_mock_{:06}", state.seq),
            intent_id: new.intent_id.clone(),
            amount: new.amount,
            currency: intent.currency.clone(),
            status: RefundStatus::Succeeded,
            metadata: new.metadata.clone(),
            created: self.now(),
        };
        state.refunds.insert(refund.id.clone(), refund.clone());
        state.keys.insert(new.idempotency_key.clone(), (fingerprint, refund.id.clone()));
        let event = self.event_in(&mut state, "refund.created", wire::refund_json(&refund));
        drop(state);
        self.deliver(event);
        Ok(refund)
    }

    async fn retrieve_refund(&self, id: &str) -> Result<ProviderRefund, ProviderError> {
        self.gate().await?;
        self.lock()
            .refunds
            .get(id)
            .cloned()
            .ok_or_else(|| ProviderError::Refused(format!("No such refund: '{id}'")))
    }

    async fn events(&self, kind: &str, since: i64, after: Option<&str>) -> Result<EventPage, ProviderError> {
        self.gate().await?;
        let state = self.lock();
        let mut matching = state.events.iter().filter(|e| e.kind == kind && e.created >= since);
        let mut events: Vec<ProviderEvent> = match after {
            Some(after) => {
                matching.by_ref().skip_while(|e| e.id != after).skip(1).take(101).cloned().collect()
            }
            None => matching.take(101).cloned().collect(),
        };
        let has_more = events.len() > 100;
        events.truncate(100);
        Ok(EventPage { events, has_more })
    }
}
