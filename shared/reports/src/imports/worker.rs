//! Applying an import: row by row from where the last run stopped, each row's change in one
//! transaction with its report item (create-only), so a rerun skips applied rows and a row is
//! either applied with its report or not at all. A run hands over to a continuation when its
//! time is up, like an export's; at the end the outcomes are counted from the reports and the
//! uploader is told.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use atelier_domain::identity::Role;
use atelier_notifications::{Notice, Topic, Var, delivery};
use atelier_platform::access::{Caller, StudioAccess};
use atelier_platform::audit::RequestMeta;
use atelier_platform::events::Event;
use atelier_platform::store::{Query, StoreError};
use atelier_platform::tx::{Guarded, Tx};
use atelier_platform::worker::{EventHandler, HandlerError};
use atelier_platform::{AppError, Platform};
use atelier_studios::Actor;
use atelier_studios::clients::{self, SearchField};
use serde_json::Value;

use super::rows::{self, ImportKind, ParsedRow, RowIssue};
use super::{
    ImportJob, ImportMessage, ImportStatus, Outcomes, Part, REQUESTED, RowOutcome, RowReport, load, stage,
};

/// How the import worker sizes its runs.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    /// Time one run spends before handing over to a continuation.
    pub time_budget: Duration,
    /// Rows between two saves of the progress.
    pub save_every: u32,
    /// Runs allowed per hop (crashes included) before the job fails.
    pub max_attempts: u32,
    /// Continuations allowed.
    pub max_hops: u32,
}

impl ImportSettings {
    /// Settings for messages leased for `lease` (as for exports).
    pub fn for_lease(lease: Duration) -> ImportSettings {
        ImportSettings {
            time_budget: (lease / 9).min(Duration::from_secs(600)),
            save_every: 25,
            max_attempts: 4,
            max_hops: 1000,
        }
    }
}

/// The import worker.
pub struct ImportWorker {
    platform: Platform,
    settings: ImportSettings,
}

impl ImportWorker {
    /// A worker with `settings`.
    pub fn new(platform: Platform, settings: ImportSettings) -> ImportWorker {
        ImportWorker { platform, settings }
    }

    async fn save(&self, job: &mut ImportJob, version: &mut i64, next: bool) -> Result<(), AppError> {
        job.version = *version + 1;
        let mut tx = Tx::<Part>::new();
        tx.push(job.replace(*version)?, Part::Job);
        if next {
            tx.event(stage(&self.platform, job)?);
        }
        tx.commit(&self.platform).await.map_err(|f| f.into_error())?;
        *version = job.version;
        Ok(())
    }

    async fn run(&self, message: &ImportMessage) -> Result<(), AppError> {
        let platform = &self.platform;
        let Some((mut job, mut version)) = load(platform, &message.studio_id, &message.import_id).await?
        else {
            return Ok(());
        };
        if message.hop != job.hop || job.status == ImportStatus::Uploaded {
            return Ok(());
        }
        if matches!(job.status, ImportStatus::Done | ImportStatus::Failed) {
            return self.tell(&mut job, &mut version).await;
        }
        job.attempts += 1;
        if job.attempts > self.settings.max_attempts {
            job.error = Some(format!(
                "gave up after {} attempts (a run stopped without a word)",
                self.settings.max_attempts
            ));
            return self.finish(&mut job, &mut version, ImportStatus::Failed).await;
        }
        match self.apply_rows(&mut job, &mut version).await {
            // The last attempt marks the job failed (below the queue's five receives).
            Err(e) if job.attempts >= self.settings.max_attempts => {
                job.error = Some(format!("gave up after {} attempts: {e}", job.attempts));
                self.finish(&mut job, &mut version, ImportStatus::Failed).await
            }
            other => other,
        }
    }

    async fn apply_rows(&self, job: &mut ImportJob, version: &mut i64) -> Result<(), AppError> {
        let platform = &self.platform;
        job.status = ImportStatus::Processing;
        self.save(job, version, false).await?;
        let deadline = Instant::now() + self.settings.time_budget;
        let sheet = super::file_of(platform, job).await?;
        let digits = super::currency_digits(platform, &job.studio_id).await?;
        let checked = rows::check(job.kind, &sheet, &job.mapping, digits);
        let access = StudioAccess {
            caller: Caller {
                user_id: job.requested_by.clone(),
                session_id: String::new(),
                is_admin: false,
                api_key: None,
            },
            studio_id: job.studio_id.clone(),
            role: Some(Role::Manager),
        };
        let meta = RequestMeta::new("", &format!("import {}", job.id));
        let actor = Actor { access: &access, meta: &meta };
        let start = usize::try_from(job.next_row).unwrap_or(usize::MAX);
        for (i, row) in checked.iter().enumerate().skip(start) {
            self.apply_row(job, actor, row).await?;
            job.next_row = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let last = i + 1 == checked.len();
            if !last && Instant::now() >= deadline {
                job.hop += 1;
                job.attempts = 0;
                if job.hop > self.settings.max_hops {
                    job.error = Some("more runs than allowed; import a smaller file".into());
                    return self.finish(job, version, ImportStatus::Failed).await;
                }
                return self.save(job, version, true).await;
            }
            if !last && job.next_row.is_multiple_of(self.settings.save_every) {
                self.save(job, version, false).await?;
            }
        }
        job.next_row = u32::try_from(checked.len()).unwrap_or(u32::MAX);
        self.finish(job, version, ImportStatus::Done).await
    }

    /// Applies one row with its report as the guard; a row applied by an earlier run is left.
    async fn apply_row(
        &self,
        job: &ImportJob,
        actor: Actor<'_>,
        row: &Result<ParsedRow, Vec<RowIssue>>,
    ) -> Result<(), AppError> {
        let platform = &self.platform;
        let (studio, id) = (&job.studio_id, &job.id);
        let parsed = match row {
            Ok(parsed) => parsed,
            Err(issues) => {
                let report = RowReport {
                    row: issues[0].row,
                    outcome: RowOutcome::Refused,
                    record_id: None,
                    issues: issues.clone(),
                };
                return self.report_only(job, &report).await;
            }
        };
        let report = |outcome, record_id: Option<String>, issues| RowReport {
            row: parsed.row,
            outcome,
            record_id,
            issues,
        };
        let existing = self.existing(job, parsed).await?;
        let result: Result<Guarded<String>, AppError> = match (job.kind, existing) {
            (_, Some(found)) if !job.update_existing => {
                return self.report_only(job, &report(RowOutcome::Skipped, Some(found), Vec::new())).await;
            }
            (ImportKind::Clients, Some(found)) => {
                let guard = report(RowOutcome::Updated, Some(found.clone()), Vec::new()).guard(studio, id)?;
                clients::update_guarded(
                    platform,
                    actor,
                    &found.as_str().into(),
                    &Value::Object(parsed.fields.clone()),
                    guard,
                )
                .await
                .map(|g| map(g, |c| c.id.to_string()))
            }
            (ImportKind::Products, Some(found)) => {
                let guard = report(RowOutcome::Updated, Some(found.clone()), Vec::new()).guard(studio, id)?;
                atelier_inventory::products::update_guarded(
                    platform,
                    actor,
                    &found.as_str().into(),
                    &Value::Object(parsed.fields.clone()),
                    guard,
                )
                .await
                .map(|g| map(g, |p| p.id.to_string()))
            }
            (ImportKind::Clients, None) => {
                let details = serde_json::from_value(Value::Object(parsed.fields.clone()))
                    .map_err(|e| AppError::failed("a checked row", e))?;
                let guard = |record: &str| {
                    report(RowOutcome::Created, Some(record.to_owned()), Vec::new()).guard(studio, id)
                };
                clients::create_guarded(platform, actor, details, guard)
                    .await
                    .map(|g| map(g, |c| c.id.to_string()))
            }
            (ImportKind::Products, None) => {
                let mut whole = parsed.fields.clone();
                whole.retain(|_, v| !v.is_null());
                let definition = serde_json::from_value(Value::Object(whole))
                    .map_err(|e| AppError::failed("a checked row", e))?;
                let (owner, import, number) = (studio.clone(), id.clone(), parsed.row);
                let guard = move |record: &str| {
                    let created = RowReport {
                        row: number,
                        outcome: RowOutcome::Created,
                        record_id: Some(record.to_owned()),
                        issues: Vec::new(),
                    };
                    created.guard(&owner, &import)
                };
                atelier_inventory::products::create_guarded(platform, actor, definition, guard)
                    .await
                    .map(|g| map(g, |p| p.id.to_string()))
            }
        };
        match result {
            Ok(_) => Ok(()),
            // Refused by the use case (another product took the SKU meanwhile, a rule the file
            // check does not know): the row is refused with the reason.
            Err(
                e @ (AppError::Conflict(..)
                | AppError::Invalid(_)
                | AppError::Unprocessable(..)
                | AppError::NotFound(_)),
            ) => {
                let issue = RowIssue { row: parsed.row, column: None, message: e.to_string() };
                self.report_only(job, &report(RowOutcome::Refused, None, vec![issue])).await
            }
            Err(e) => Err(e),
        }
    }

    /// The record a row matches, if any.
    async fn existing(&self, job: &ImportJob, row: &ParsedRow) -> Result<Option<String>, AppError> {
        let platform = &self.platform;
        for key in &row.match_keys {
            let (kind, value) = key.split_once(':').unwrap_or(("", ""));
            let found = match kind {
                "email" => clients::find(platform, &job.studio_id, SearchField::Email, value)
                    .await?
                    .map(|c| c.to_string()),
                "phone" => clients::find(platform, &job.studio_id, SearchField::Phone, value)
                    .await?
                    .map(|c| c.to_string()),
                "sku" => atelier_inventory::products::by_sku(platform, &job.studio_id, value)
                    .await?
                    .map(|p| p.to_string()),
                _ => None,
            };
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Writes a report alone (refused or skipped rows); one already there is left.
    async fn report_only(&self, job: &ImportJob, report: &RowReport) -> Result<(), AppError> {
        match self.platform.store.write(report.guard(&job.studio_id, &job.id)?).await {
            Ok(_) => Ok(()),
            Err(e) if exists(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn finish(
        &self,
        job: &mut ImportJob,
        version: &mut i64,
        status: ImportStatus,
    ) -> Result<(), AppError> {
        job.outcomes = self.count(job).await?;
        job.status = status;
        job.finished_at = Some(self.platform.clock.now());
        self.save(job, version, false).await?;
        self.tell(job, version).await
    }

    /// Tells the uploader once the import is finished and saved, and records it.
    async fn tell(&self, job: &mut ImportJob, version: &mut i64) -> Result<(), AppError> {
        if job.notified {
            return Ok(());
        }
        self.notify(job).await?;
        job.notified = true;
        self.save(job, version, false).await
    }

    /// Outcomes counted from the row reports (exact, whatever runs crashed in between).
    async fn count(&self, job: &ImportJob) -> Result<Outcomes, AppError> {
        let query = Query::partition(super::rows_partition(&job.studio_id, &job.id));
        let items = self.platform.store.query_all(query, rows::MAX_ROWS + 1).await?;
        let mut outcomes = Outcomes::default();
        for item in items {
            match item.string("outcome").unwrap_or_default() {
                "created" => outcomes.created += 1,
                "updated" => outcomes.updated += 1,
                "skipped" => outcomes.skipped += 1,
                _ => outcomes.refused += 1,
            }
        }
        Ok(outcomes)
    }

    async fn notify(&self, job: &ImportJob) -> Result<(), AppError> {
        let platform = &self.platform;
        let studio = atelier_studios::get(platform, &job.studio_id).await?;
        for person in atelier_identity::profiles(platform, std::slice::from_ref(&job.requested_by)).await? {
            let o = &job.outcomes;
            let notice = Notice::new(Topic::ImportFinished, atelier_identity::recipient(&person))
                .in_studio(atelier_studios::notice_context(&studio))
                .with(
                    "kind",
                    Var::Text(match job.kind {
                        ImportKind::Clients => "clients".into(),
                        ImportKind::Products => "products".into(),
                    }),
                )
                .with("applied", Var::Number(i64::from(o.created + o.updated + o.skipped)))
                .with("refused", Var::Number(i64::from(o.refused)))
                .with("link", Var::Text(format!("/v1/studios/{}/imports/{}/rows", job.studio_id, job.id)));
            delivery::dispatch(
                platform,
                &format!("import-{}-{}", job.id, job.hop),
                platform.clock.now(),
                &notice,
            )
            .await
            .map_err(|e| AppError::failed("telling the uploader", e))?;
        }
        Ok(())
    }
}

fn map<T>(g: Guarded<T>, f: impl FnOnce(T) -> String) -> Guarded<String> {
    match g {
        Guarded::Done(t) => Guarded::Done(f(t)),
        Guarded::AlreadyDone => Guarded::AlreadyDone,
    }
}

#[async_trait]
impl EventHandler for ImportWorker {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let message: ImportMessage = serde_json::from_value(event.payload.clone())
            .map_err(|e| HandlerError::failed(format!("malformed {}", event.kind), e))?;
        Ok(self.run(&message).await?)
    }
}

/// The handlers of the imports' messages (on the exports queue).
pub fn handlers(platform: &Platform, lease: Duration) -> Vec<(&'static str, Arc<dyn EventHandler>)> {
    handlers_with(platform, ImportSettings::for_lease(lease))
}

/// The same with explicit settings.
pub fn handlers_with(
    platform: &Platform,
    settings: ImportSettings,
) -> Vec<(&'static str, Arc<dyn EventHandler>)> {
    vec![(REQUESTED, Arc::new(ImportWorker::new(platform.clone(), settings)))]
}

/// Whether a store error is a failed create-only condition (the report was there).
fn exists(e: &StoreError) -> bool {
    matches!(e, StoreError::ConditionFailed { .. })
}
