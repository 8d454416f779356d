//! Imports of clients and products from CSV. The file is uploaded (kept in the blob store) and
//! its columns mapped to fields by their names; a dry run checks every row and names each
//! problem by row and column; applying runs as a job on the exports queue that creates or
//! (when asked) updates one record per row, each in one transaction with the row's report
//! item, which exists only once: a rerun after a crash skips the rows already applied, and
//! nothing is half-applied. Existing records are matched by email, then phone (clients) or by
//! SKU (products).

pub mod routes;
pub mod rows;
pub mod worker;

use std::collections::BTreeMap;

use atelier_domain::ids::{ImportId, StudioId, UserId};
use atelier_platform::error::{CHANGED_MEANWHILE, Reason};
use atelier_platform::events::Event;
use atelier_platform::outbox::OutboxEntry;
use atelier_platform::store::{Condition, Item, Key, Query, SortKey, StoreError, WriteOp};
use atelier_platform::tx::{Label, Tx};
use atelier_platform::{AppError, Platform};
use atelier_studios::{Actor, studio_item};
use bytes::Bytes;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use rows::{ImportKind, RowIssue};

/// The event that asks the worker to (go on) applying an import.
pub const REQUESTED: &str = "import.requested";

/// A file that cannot be read as an import (empty, too many rows or columns, a bad header).
pub const UNREADABLE: Reason = Reason { slug: "import-unreadable", title: "The file cannot be imported" };
/// Applying an import already applied or running.
pub const NOT_APPLICABLE: Reason =
    Reason { slug: "import-not-applicable", title: "The import was applied already" };

/// Where an import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// The file is in; dry-run it, then apply it.
    Uploaded,
    /// Waiting for the worker.
    Pending,
    /// Rows are being applied.
    Processing,
    /// Every row has its outcome.
    Done,
    /// The worker gave up; see `error`.
    Failed,
}

/// What one row came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowOutcome {
    /// A new record.
    Created,
    /// An existing record updated (asked for).
    Updated,
    /// An existing record left as it is (updates not asked for).
    Skipped,
    /// The row has problems; nothing was written for it.
    Refused,
}

impl RowOutcome {
    /// Every outcome.
    pub const ALL: [RowOutcome; 4] =
        [RowOutcome::Created, RowOutcome::Updated, RowOutcome::Skipped, RowOutcome::Refused];

    /// The name in stored items.
    pub fn as_str(self) -> &'static str {
        match self {
            RowOutcome::Created => "created",
            RowOutcome::Updated => "updated",
            RowOutcome::Skipped => "skipped",
            RowOutcome::Refused => "refused",
        }
    }
}

/// Counts of rows by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Outcomes {
    /// New records.
    pub created: u32,
    /// Records updated.
    pub updated: u32,
    /// Existing records left alone.
    pub skipped: u32,
    /// Rows refused.
    pub refused: u32,
}

/// An import as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportJob {
    /// Id.
    pub id: ImportId,
    /// The studio.
    pub studio_id: StudioId,
    /// What it imports.
    pub kind: ImportKind,
    /// Status.
    pub status: ImportStatus,
    /// The file's columns.
    pub headers: Vec<String>,
    /// Data rows in the file.
    pub rows: u32,
    /// Field → column.
    pub mapping: BTreeMap<String, String>,
    /// Whether existing records are updated (else left alone).
    pub update_existing: bool,
    /// Outcomes so far.
    pub outcomes: Outcomes,
    /// Rows handled so far (0-based index of the next).
    pub next_row: u32,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Runs in the current hop (crashes included).
    #[serde(default)]
    pub attempts: u32,
    /// Which continuation is current.
    #[serde(default)]
    pub hop: u32,
    /// Whether the uploader was told it finished.
    #[serde(default)]
    pub notified: bool,
    /// Who uploaded it.
    pub requested_by: UserId,
    /// When.
    pub uploaded_at: Timestamp,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// Version.
    pub version: i64,
}

/// What a caller sees of an import.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportView {
    /// Id.
    #[schema(value_type = String)]
    pub id: ImportId,
    /// What it imports.
    pub kind: ImportKind,
    /// Status.
    pub status: ImportStatus,
    /// The file's columns.
    pub headers: Vec<String>,
    /// Data rows in the file.
    pub rows: u32,
    /// Field → column (automatic by name, or as last asked).
    pub mapping: BTreeMap<String, String>,
    /// Fields no column fills.
    pub unmapped: Vec<String>,
    /// Whether existing records are updated.
    pub update_existing: bool,
    /// Rows handled so far.
    pub rows_done: u32,
    /// Outcomes so far.
    pub outcomes: Outcomes,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it was uploaded.
    #[schema(value_type = String, format = DateTime)]
    pub uploaded_at: Timestamp,
    /// When it ended.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
}

impl ImportJob {
    /// The view of it.
    pub fn view(&self) -> ImportView {
        ImportView {
            id: self.id.clone(),
            kind: self.kind,
            status: self.status,
            headers: self.headers.clone(),
            rows: self.rows,
            unmapped: self
                .kind
                .fields()
                .iter()
                .map(|(f, _)| (*f).to_owned())
                .filter(|f| !self.mapping.contains_key(f))
                .collect(),
            mapping: self.mapping.clone(),
            update_existing: self.update_existing,
            rows_done: self.next_row,
            outcomes: self.outcomes.clone(),
            error: self.error.clone(),
            uploaded_at: self.uploaded_at,
            finished_at: self.finished_at,
        }
    }

    /// The uploaded file's blob key (ids only).
    pub fn file_key(&self) -> String {
        format!("imports/{}/{}.csv", self.studio_id, self.id)
    }

    /// The stored item.
    pub fn to_item(&self) -> Result<Item, StoreError> {
        Item::from_record(&import_key(&self.studio_id, &self.id), self)
    }

    /// A write of this state over the version read.
    pub fn replace(&self, read_version: i64) -> Result<WriteOp, StoreError> {
        Ok(WriteOp::put(self.to_item()?).when(Condition::version_is(read_version)))
    }
}

/// Key of an import.
pub fn import_key(studio: &StudioId, id: &ImportId) -> Key {
    studio_item(studio, format!("IMPORT#{id}"))
}

/// Partition of an import's row reports.
pub fn rows_partition(studio: &StudioId, id: &ImportId) -> String {
    format!("STUDIO#{studio}#IMPORT#{id}")
}

/// Key of one row's report (also the marker that the row was applied).
pub fn row_key(studio: &StudioId, id: &ImportId, row: u32) -> Key {
    Key::new(rows_partition(studio, id), format!("ROW#{row:06}"))
}

/// One row's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RowReport {
    /// The row (header = 1).
    pub row: u32,
    /// What it came to.
    pub outcome: RowOutcome,
    /// The record created, updated or matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// Its problems (refused rows; empty otherwise).
    #[serde(default)]
    pub issues: Vec<RowIssue>,
}

impl RowReport {
    /// The create-only write of the report: the guard of the row's change.
    pub fn guard(&self, studio: &StudioId, id: &ImportId) -> Result<WriteOp, StoreError> {
        Ok(WriteOp::create(
            Item::from_record(&row_key(studio, id, self.row), self)?.with("outcome", self.outcome.as_str()),
        ))
    }
}

/// What the import's writes stand for.
#[derive(Debug, Clone, Copy, Default)]
pub enum Part {
    /// The job, under its version.
    Job,
    /// Outbox and audit.
    #[default]
    Other,
}

impl Label for Part {
    fn conflict(&self) -> AppError {
        AppError::Conflict(CHANGED_MEANWHILE, "the import changed meanwhile; read it again".into())
    }
}

/// What the queue's message carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportMessage {
    /// The studio.
    pub studio_id: StudioId,
    /// The import.
    pub import_id: ImportId,
    /// The continuation it is for.
    pub hop: u32,
}

/// Stages `import.requested` for the job's current hop.
pub fn stage(platform: &Platform, job: &ImportJob) -> Result<(WriteOp, OutboxEntry), StoreError> {
    let message = ImportMessage { studio_id: job.studio_id.clone(), import_id: job.id.clone(), hop: job.hop };
    let event = Event {
        id: platform.ids.new_id(),
        kind: REQUESTED.to_owned(),
        studio_id: Some(job.studio_id.to_string()),
        occurred_at: platform.clock.now(),
        trace: None,
        payload: serde_json::to_value(message).map_err(|e| StoreError::Encode(e.to_string()))?,
    };
    atelier_platform::outbox::record(&event, &crate::exports::QUEUE)
}

/// Reads an import of the studio with the version read.
pub async fn load(
    platform: &Platform,
    studio: &StudioId,
    id: &ImportId,
) -> Result<Option<(ImportJob, i64)>, AppError> {
    match platform.store.get(&import_key(studio, id)).await? {
        Some(item) => {
            let job: ImportJob = item.to_record()?;
            let version = job.version;
            Ok(Some((job, version)))
        }
        None => Ok(None),
    }
}

async fn require(
    platform: &Platform,
    studio: &StudioId,
    id: &ImportId,
) -> Result<(ImportJob, i64), AppError> {
    load(platform, studio, id).await?.ok_or(AppError::NotFound("import"))
}

/// Uploads a file: it is read (header, rows, limits) and kept; the mapping is guessed.
pub async fn upload(
    platform: &Platform,
    actor: Actor<'_>,
    kind: ImportKind,
    file: Bytes,
) -> Result<ImportView, AppError> {
    if file.len() > rows::MAX_BYTES {
        return Err(AppError::Unprocessable(
            UNREADABLE,
            format!("the file is larger than {} bytes", rows::MAX_BYTES),
        ));
    }
    let sheet = rows::parse(&file).map_err(|e| AppError::Unprocessable(UNREADABLE, e.to_string()))?;
    let now = platform.clock.now();
    let job = ImportJob {
        id: ImportId::new(platform.ids.new_id()),
        studio_id: actor.studio_id().clone(),
        kind,
        status: ImportStatus::Uploaded,
        mapping: rows::automatic_mapping(kind, &sheet.headers),
        rows: u32::try_from(sheet.rows.len()).unwrap_or(u32::MAX),
        headers: sheet.headers,
        update_existing: false,
        outcomes: Outcomes::default(),
        next_row: 0,
        error: None,
        attempts: 0,
        hop: 0,
        notified: false,
        requested_by: actor.user_id().clone(),
        uploaded_at: now,
        finished_at: None,
        version: 1,
    };
    // The file first: a job never points at a file that is not there.
    platform
        .blobs
        .put(&job.file_key(), atelier_platform::blob::BlobBody::Bytes(file), "text/csv")
        .await
        .map_err(|e| AppError::failed("keeping the file", e))?;
    let mut tx = Tx::<Part>::new();
    tx.push(WriteOp::create(job.to_item()?), Part::Job);
    tx.push(
        actor.audit(
            platform,
            "imports.uploaded",
            "import",
            job.id.as_str(),
            serde_json::json!({ "kind": kind, "rows": job.rows }),
        )?,
        Part::Other,
    );
    tx.commit(platform).await.map_err(|f| f.into_error())?;
    Ok(job.view())
}

/// How to read the file: column overrides and whether to update existing records.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportOptions {
    /// Field → column name, over the automatic mapping; `null` leaves a field out.
    #[serde(default)]
    pub mapping: BTreeMap<String, Option<String>>,
    /// Update records that match (by email or phone, by SKU) with the row's fields; otherwise
    /// they are left as they are.
    #[serde(default)]
    pub update_existing: bool,
}

/// What a dry run found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DryRun {
    /// The mapping used.
    pub mapping: BTreeMap<String, String>,
    /// Data rows.
    pub rows: u32,
    /// Rows that would be applied (created, or matched when applied).
    pub valid: u32,
    /// Rows with problems.
    pub refused: u32,
    /// Every problem, by row and column (the first 1000).
    pub issues: Vec<RowIssue>,
}

async fn file_of(platform: &Platform, job: &ImportJob) -> Result<rows::Sheet, AppError> {
    let bytes = platform
        .blobs
        .get(&job.file_key())
        .await
        .map_err(|e| AppError::failed("reading the file", e))?
        .ok_or_else(|| AppError::Internal(format!("import {} has no file", job.id)))?;
    rows::parse(&bytes).map_err(|e| AppError::Unprocessable(UNREADABLE, e.to_string()))
}

/// The digits of the studio's currency (product prices are in it).
pub async fn currency_digits(platform: &Platform, studio: &StudioId) -> Result<u8, AppError> {
    let studio = atelier_studios::get(platform, studio).await?;
    Ok(atelier_domain::money::Currency::parse(&studio.profile.currency, "currency")
        .map_or(2, |c| c.minor_units()))
}

/// Checks every row without writing anything.
pub async fn dry_run(
    platform: &Platform,
    studio: &StudioId,
    id: &ImportId,
    options: &ImportOptions,
) -> Result<DryRun, AppError> {
    let (job, _) = require(platform, studio, id).await?;
    let sheet = file_of(platform, &job).await?;
    let mapping = rows::mapping(job.kind, &sheet.headers, &options.mapping)?;
    let checked = rows::check(job.kind, &sheet, &mapping, currency_digits(platform, studio).await?);
    let mut issues = Vec::new();
    let mut refused = 0;
    for row in &checked {
        if let Err(found) = row {
            refused += 1;
            issues.extend(found.iter().cloned());
        }
    }
    issues.truncate(1000);
    let rows = u32::try_from(checked.len()).unwrap_or(u32::MAX);
    Ok(DryRun { mapping, rows, valid: rows - refused, refused, issues })
}

/// Applies the import as a job (202): the mapping and the update choice are fixed now.
pub async fn apply(
    platform: &Platform,
    actor: Actor<'_>,
    id: &ImportId,
    options: &ImportOptions,
) -> Result<ImportView, AppError> {
    let (mut job, version) = require(platform, actor.studio_id(), id).await?;
    if job.status != ImportStatus::Uploaded {
        return Err(AppError::Conflict(
            NOT_APPLICABLE,
            "an import is applied once; upload the file again".into(),
        ));
    }
    job.mapping = rows::mapping(job.kind, &job.headers, &options.mapping)?;
    job.update_existing = options.update_existing;
    job.status = ImportStatus::Pending;
    job.version += 1;
    let mut tx = Tx::<Part>::new();
    tx.push(job.replace(version)?, Part::Job);
    tx.event(stage(platform, &job)?);
    tx.push(
        actor.audit(
            platform,
            "imports.applied",
            "import",
            job.id.as_str(),
            serde_json::json!({ "mapping": job.mapping, "update_existing": job.update_existing }),
        )?,
        Part::Other,
    );
    tx.commit(platform).await.map_err(|f| f.into_error())?;
    Ok(job.view())
}

/// The studio's imports, newest first.
pub async fn list(
    platform: &Platform,
    studio: &StudioId,
    page: impl FnOnce(Query) -> Result<Query, AppError>,
) -> Result<(Vec<ImportView>, Option<atelier_platform::store::Cursor>), AppError> {
    let query = Query::partition(atelier_studios::studio_partition(studio))
        .sort(SortKey::BeginsWith("IMPORT#".into()))
        .descending();
    let found = platform.store.query(&page(query)?).await?;
    let jobs: Vec<ImportJob> = found.items.iter().map(Item::to_record).collect::<Result<_, _>>()?;
    Ok((jobs.iter().map(ImportJob::view).collect(), found.next))
}

/// One import.
pub async fn get(platform: &Platform, studio: &StudioId, id: &ImportId) -> Result<ImportView, AppError> {
    Ok(require(platform, studio, id).await?.0.view())
}

/// A page of an import's row reports, in row order, optionally of one outcome.
pub async fn row_reports(
    platform: &Platform,
    studio: &StudioId,
    id: &ImportId,
    outcome: Option<RowOutcome>,
    page: impl FnOnce(Query) -> Result<Query, AppError>,
) -> Result<(Vec<RowReport>, Option<atelier_platform::store::Cursor>), AppError> {
    require(platform, studio, id).await?;
    let query = page(Query::partition(rows_partition(studio, id)))?;
    let keep =
        move |item: &Item| outcome.is_none_or(|o| item.string("outcome").is_ok_and(|v| v == o.as_str()));
    let found = platform.store.query_filtered(query, keep, 10).await?;
    let reports = found.items.iter().map(Item::to_record).collect::<Result<_, _>>()?;
    Ok((reports, found.next))
}
