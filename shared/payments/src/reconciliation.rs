//! The daily reconciliation: the provider's payment and refund events since the last
//! watermark (well inside the 30 days a provider keeps events) against what Atelier recorded.
//! Each drift is recorded once for the studio's owners: paid there and unknown here, paid here
//! and missing there, amounts that differ. A payment whose webhook never arrived is brought up
//! to date (and recorded as a drift, so someone learns the webhook is failing).

use std::collections::HashSet;

use atelier_domain::ids::{PaymentId, StudioId};
use atelier_domain::money::Currency;
use atelier_domain::payments::{PaymentStatus, from_provider_amount};
use atelier_platform::payments::IntentStatus;
use atelier_platform::store::{Item, Key, Query, StoreError, WriteOp};
use atelier_platform::{AppError, Platform};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::checkout::provider_error;
use crate::intents::apply_intent;
use crate::provider::wire;

/// How far back the first run looks.
const FIRST_WINDOW: SignedDuration = SignedDuration::from_hours(72);
/// Events are read from this long before the watermark: events are listed by when they were
/// created, and one created just before a run may be listed only after it.
const OVERLAP: SignedDuration = SignedDuration::from_hours(1);

/// What kind of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// The provider received money for an intent Atelier has no payment for.
    UnknownHere,
    /// Atelier recorded money the provider does not show as received.
    MissingThere,
    /// Both know the payment; the amounts differ.
    AmountDiffers,
    /// The provider received it but Atelier had not heard (its webhook was lost): applied now.
    MissedHere,
}

/// One drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Drift {
    /// What.
    pub kind: DriftKind,
    /// `stripe` or `mock`.
    pub provider: String,
    /// The provider's intent.
    pub intent_id: String,
    /// Atelier's payment, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub payment_id: Option<PaymentId>,
    /// Received there, in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_there_minor: Option<i64>,
    /// Received here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_here_minor: Option<i64>,
    /// Currency.
    pub currency: String,
    /// When it was found.
    #[schema(value_type = String, format = DateTime)]
    pub detected_at: Timestamp,
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Provider events read.
    pub events: usize,
    /// Drifts found (new or already recorded).
    pub drifts: usize,
    /// Payments brought up to date.
    pub healed: usize,
}

/// The pointer to an online payment received on a UTC day, which the run reads.
pub fn received_key(at: Timestamp, studio_id: &StudioId, payment_id: &PaymentId) -> Key {
    Key::new(format!("PAYRECEIVED#{}", crate::local_date(at, "UTC")), format!("{studio_id}#{payment_id}"))
}

fn watermark_key() -> Key {
    Key::new("PAYMENTS#RECONCILIATION", "WATERMARK")
}

/// Partition of a studio's drifts (or the deployment's, for payments of no known studio).
pub fn drifts_partition(studio_id: Option<&StudioId>) -> String {
    match studio_id {
        Some(s) => format!("STUDIO#{s}#DRIFTS"),
        None => "PAYMENTS#DRIFTS".into(),
    }
}

async fn record(platform: &Platform, studio_id: Option<&StudioId>, drift: &Drift) -> Result<(), AppError> {
    let kind =
        serde_json::to_value(drift.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let key = Key::new(drifts_partition(studio_id), format!("DRIFT#{}#{kind}", drift.intent_id));
    // Once per intent and kind, however many runs see it.
    match platform.store.write(WriteOp::create(Item::from_record(&key, drift)?)).await {
        Ok(_) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Runs the reconciliation once.
pub async fn run(platform: &Platform) -> Result<ReconcileReport, AppError> {
    let provider = crate::provider(platform)?;
    let name = provider.name();
    let started = platform.clock.now();
    let watermark = platform
        .store
        .get(&watermark_key())
        .await?
        .and_then(|i| i.number("at").ok())
        .and_then(|s| Timestamp::from_second(s).ok())
        .unwrap_or(started - FIRST_WINDOW);
    let since = watermark - OVERLAP;
    let mut report = ReconcileReport::default();
    let mut seen_there = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let page = provider
            .events("payment_intent.succeeded", since.as_second(), after.as_deref())
            .await
            .map_err(provider_error)?;
        for event in &page.events {
            report.events += 1;
            let Some(intent) = wire::intent(&event.object) else { continue };
            seen_there.insert(intent.id.clone());
            let Ok(currency) = Currency::parse(&intent.currency, "currency") else { continue };
            let there = from_provider_amount(intent.amount_received, &currency);
            let drift = |kind, payment_id, here| Drift {
                kind,
                provider: name.to_owned(),
                intent_id: intent.id.clone(),
                payment_id,
                amount_there_minor: Some(there),
                amount_here_minor: here,
                currency: currency.to_string(),
                detected_at: started,
            };
            match crate::by_intent(platform, name, &intent.id).await? {
                None => {
                    let studio = intent.metadata.get("studio_id").map(StudioId::from);
                    record(platform, studio.as_ref(), &drift(DriftKind::UnknownHere, None, None)).await?;
                    report.drifts += 1;
                }
                Some(p) if p.status != PaymentStatus::Succeeded => {
                    // The intent as it is now, not as the event says (it may have moved on).
                    let current = provider.retrieve_intent(&intent.id).await.map_err(provider_error)?;
                    apply_intent(platform, name, &current, None).await?;
                    record(
                        platform,
                        Some(&p.studio_id),
                        &drift(DriftKind::MissedHere, Some(p.id.clone()), Some(0)),
                    )
                    .await?;
                    report.healed += 1;
                    report.drifts += 1;
                }
                Some(p) if p.received_minor != there => {
                    record(
                        platform,
                        Some(&p.studio_id),
                        &drift(DriftKind::AmountDiffers, Some(p.id.clone()), Some(p.received_minor)),
                    )
                    .await?;
                    report.drifts += 1;
                }
                Some(_) => {}
            }
        }
        match (page.has_more, page.events.last()) {
            (true, Some(last)) => after = Some(last.id.clone()),
            _ => break,
        }
    }
    // Refunds: a lost webhook, or one made at the provider's dashboard, applied now.
    let mut after: Option<String> = None;
    loop {
        let page = provider
            .events("refund.created", since.as_second(), after.as_deref())
            .await
            .map_err(provider_error)?;
        for event in &page.events {
            report.events += 1;
            if let Some(refund) = wire::refund(&event.object) {
                crate::refunds::apply_provider_refund(platform, name, &refund, None).await?;
            }
        }
        match (page.has_more, page.events.last()) {
            (true, Some(last)) => after = Some(last.id.clone()),
            _ => break,
        }
    }
    // Paid here: every online payment received since the watermark must be received there.
    let mut day = since.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let last_day = started.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    while day <= last_day {
        let items = platform.store.query_all(Query::partition(format!("PAYRECEIVED#{day}")), 10_000).await?;
        for item in items {
            if item.string("provider")? != name {
                continue;
            }
            let intent_id = item.string("intent_id")?.to_owned();
            if seen_there.contains(&intent_id) {
                continue;
            }
            let Some(key) = item.key() else { continue };
            let Some((studio, payment)) = key.sk.split_once('#') else { continue };
            let here = item.number("received_minor")?;
            let currency = item.string("currency")?.to_owned();
            let missing = match provider.retrieve_intent(&intent_id).await {
                Ok(intent) => intent.status != IntentStatus::Succeeded,
                Err(atelier_platform::payments::ProviderError::Refused(_)) => true,
                Err(e) => return Err(provider_error(e)),
            };
            if missing {
                let drift = Drift {
                    kind: DriftKind::MissingThere,
                    provider: name.to_owned(),
                    intent_id,
                    payment_id: Some(PaymentId::from(payment)),
                    amount_there_minor: None,
                    amount_here_minor: Some(here),
                    currency,
                    detected_at: started,
                };
                record(platform, Some(&StudioId::from(studio)), &drift).await?;
                report.drifts += 1;
            }
        }
        day = match day.tomorrow() {
            Ok(d) => d,
            Err(_) => break,
        };
    }
    platform.store.write(WriteOp::put(Item::new(&watermark_key()).with("at", started.as_second()))).await?;
    tracing::info!(?report, "payments reconciled");
    Ok(report)
}

/// A studio's drifts, oldest first.
pub async fn drifts(platform: &Platform, studio_id: &StudioId) -> Result<Vec<Drift>, AppError> {
    let items = platform.store.query_all(Query::partition(drifts_partition(Some(studio_id))), 1000).await?;
    let mut drifts: Vec<Drift> = items.iter().map(Item::to_record).collect::<Result<_, _>>()?;
    drifts.sort_by_key(|d| d.detected_at);
    Ok(drifts)
}
