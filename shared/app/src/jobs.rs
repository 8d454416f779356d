//! Scheduled jobs, every capability's: run by the `scheduler` function on EventBridge schedules,
//! and by the local server on timers. A capability adds a job here and a schedule in the
//! template. Each job is safe to run twice or concurrently: every step it takes is a
//! conditional write on the state it read.

#[cfg(feature = "bookings")]
use atelier_bookings::changes::run_booking_steps;
#[cfg(feature = "bookings")]
use atelier_bookings::due::{self, StepReport};
#[cfg(feature = "bookings")]
use atelier_bookings::loyalty;
#[cfg(feature = "bookings")]
use atelier_domain::bookings::DueKind;
use atelier_platform::outbox::{RelayReport, SWEEP_AFTER};
use atelier_platform::{AppError, Platform};
use serde::{Deserialize, Serialize};

/// A job the scheduler runs; the schedule's input names it: `{"job": "outbox-sweep"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "kebab-case")]
pub enum Job {
    /// Re-sends outbox items whose relay was lost.
    OutboxSweep,
    /// Releases pending bookings whose hold (deposit, review, waitlist offer) ran out.
    #[cfg(feature = "bookings")]
    ExpireHolds,
    /// Sends reminders that are due.
    #[cfg(feature = "bookings")]
    SendReminders,
    /// Marks no-shows: confirmed bookings whose client has not arrived by the tolerance.
    #[cfg(feature = "bookings")]
    DetectNoShows,
    /// Expires loyalty points of clients who earned none for the studio's period.
    #[cfg(feature = "bookings")]
    ExpireLoyaltyPoints,
    /// Makes the webhook attempts that have fallen due.
    #[cfg(feature = "notifications")]
    WebhookRetries,
    /// Makes the refunds the provider could not be reached for.
    #[cfg(feature = "payments")]
    RefundRetries,
    /// Compares the provider's payments and refunds with the ledger.
    #[cfg(feature = "payments")]
    ReconcilePayments,
}

impl Job {
    /// Every job, as the local server runs them.
    pub const ALL: &[Job] = &[
        Job::OutboxSweep,
        #[cfg(feature = "bookings")]
        Job::ExpireHolds,
        #[cfg(feature = "bookings")]
        Job::SendReminders,
        #[cfg(feature = "bookings")]
        Job::DetectNoShows,
        #[cfg(feature = "bookings")]
        Job::ExpireLoyaltyPoints,
        #[cfg(feature = "notifications")]
        Job::WebhookRetries,
        #[cfg(feature = "payments")]
        Job::RefundRetries,
        #[cfg(feature = "payments")]
        Job::ReconcilePayments,
    ];
}

/// What a job did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobReport {
    /// Outbox sweep result.
    OutboxSweep {
        /// Events sent.
        sent: usize,
        /// Events still waiting.
        failed: usize,
    },
    /// Holds released.
    #[cfg(feature = "bookings")]
    ExpireHolds(StepReport),
    /// Reminders sent.
    #[cfg(feature = "bookings")]
    SendReminders(StepReport),
    /// No-shows marked.
    #[cfg(feature = "bookings")]
    DetectNoShows(StepReport),
    /// Points expired.
    #[cfg(feature = "bookings")]
    ExpireLoyaltyPoints(StepReport),
    /// Webhook attempts made.
    #[cfg(feature = "notifications")]
    WebhookRetries(atelier_notifications::webhooks::RetryReport),
    /// Refunds retried.
    #[cfg(feature = "payments")]
    RefundRetries(atelier_payments::refunds::RetryReport),
    /// Payments reconciled.
    #[cfg(feature = "payments")]
    ReconcilePayments(atelier_payments::reconciliation::ReconcileReport),
}

/// Runs a job.
pub async fn run(job: Job, platform: &Platform) -> Result<JobReport, AppError> {
    use tracing::Instrument;
    // A run is its own trace: the events it raises, and their handling, log under its id.
    let trace = atelier_platform::trace::current().unwrap_or_else(|| atelier_platform::trace::Trace {
        request_id: platform.ids.new_id(),
        trace_id: None,
    });
    let span = tracing::info_span!("job", ?job, request_id = %trace.request_id);
    atelier_platform::trace::within(trace, run_job(job, platform).instrument(span)).await
}

async fn run_job(job: Job, platform: &Platform) -> Result<JobReport, AppError> {
    match job {
        Job::OutboxSweep => {
            let RelayReport { sent, failed } = platform.outbox.sweep(SWEEP_AFTER).await?;
            Ok(JobReport::OutboxSweep { sent, failed })
        }
        #[cfg(feature = "bookings")]
        Job::ExpireHolds => {
            run_booking_steps(platform, DueKind::HoldExpiry).await.map(JobReport::ExpireHolds)
        }
        #[cfg(feature = "bookings")]
        Job::SendReminders => {
            run_booking_steps(platform, DueKind::Reminder).await.map(JobReport::SendReminders)
        }
        #[cfg(feature = "bookings")]
        Job::DetectNoShows => {
            run_booking_steps(platform, DueKind::NoShowCheck).await.map(JobReport::DetectNoShows)
        }
        #[cfg(feature = "bookings")]
        Job::ExpireLoyaltyPoints => {
            due::run(platform, due::LOYALTY, |item| loyalty::expire_step(platform, item))
                .await
                .map(JobReport::ExpireLoyaltyPoints)
        }
        #[cfg(feature = "notifications")]
        Job::WebhookRetries => {
            atelier_notifications::webhooks::retry_due(platform).await.map(JobReport::WebhookRetries)
        }
        // A deployment without payments has nothing to retry or reconcile.
        #[cfg(feature = "payments")]
        Job::RefundRetries if platform.payments.is_none() => {
            Ok(JobReport::RefundRetries(atelier_payments::refunds::RetryReport::default()))
        }
        #[cfg(feature = "payments")]
        Job::RefundRetries => {
            atelier_payments::refunds::retry_pending(platform).await.map(JobReport::RefundRetries)
        }
        #[cfg(feature = "payments")]
        Job::ReconcilePayments if platform.payments.is_none() => {
            Ok(JobReport::ReconcilePayments(atelier_payments::reconciliation::ReconcileReport::default()))
        }
        #[cfg(feature = "payments")]
        Job::ReconcilePayments => {
            atelier_payments::reconciliation::run(platform).await.map(JobReport::ReconcilePayments)
        }
    }
}

/// Runs the job a schedule names. The schedule's input is `{"job": "<name>"}`; anything else
/// fails the invocation, so a misconfigured schedule shows up in the function's errors.
pub async fn run_scheduled(platform: &Platform, input: serde_json::Value) -> Result<JobReport, AppError> {
    let job: Job = serde_json::from_value(input.clone())
        .map_err(|e| AppError::BadRequest(format!("not a job: {input} ({e})")))?;
    let report = run(job, platform).await?;
    tracing::info!(?job, ?report, "job done");
    Ok(report)
}
