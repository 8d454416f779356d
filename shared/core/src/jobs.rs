//! Scheduled jobs: run by the `scheduler` function on EventBridge schedules, and by the local
//! server on timers. Each job is safe to run twice or concurrently.

use serde::{Deserialize, Serialize};

use crate::outbox::{RelayReport, SWEEP_AFTER};
use crate::{AppError, Platform};

/// A job the scheduler runs; the schedule's input names it: `{"job": "outbox-sweep"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "kebab-case")]
pub enum Job {
    /// Re-sends outbox items whose relay was lost.
    OutboxSweep,
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
}

/// Runs a job.
pub async fn run(job: Job, platform: &Platform) -> Result<JobReport, AppError> {
    match job {
        Job::OutboxSweep => {
            let RelayReport { sent, failed } = platform.outbox.sweep(SWEEP_AFTER).await?;
            Ok(JobReport::OutboxSweep { sent, failed })
        }
    }
}
