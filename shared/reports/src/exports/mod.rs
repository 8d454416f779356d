//! Exports: a studio's bookings, clients, payments, products, stock movements, projects or
//! audit trail as CSV or XLSX. Asking for one stores a job (`pending`) and stages
//! `export.requested` on the exports queue in the same transaction; the exports worker
//! ([`worker`]) writes the file to the blob store in parts (`processing`, with the rows written
//! so far), continues in a new invocation when its time is up, and ends `done` (the requester
//! is notified and downloads through a short-lived link) or `failed` (retry it).

pub mod cells;
pub mod datasets;
pub mod routes;
pub mod worker;
pub mod writer;

use atelier_domain::ids::{ExportId, StudioId, UserId};
use atelier_domain::{Invalid, time};
use atelier_platform::blob::UploadedPart;
use atelier_platform::error::{CHANGED_MEANWHILE, Reason};
use atelier_platform::events::Event;
use atelier_platform::outbox::OutboxEntry;
use atelier_platform::queue::QueueName;
use atelier_platform::store::{Condition, Item, Key, Query, SortKey, StoreError, WriteOp};
use atelier_platform::tx::{Label, Tx};
use atelier_platform::{AppError, Platform};
use atelier_studios::{Actor, studio_item};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use datasets::Dataset;

/// The queue export jobs travel on.
pub const QUEUE: QueueName = QueueName::named("exports");
/// The event that asks the worker to (go on) writing an export.
pub const REQUESTED: &str = "export.requested";

/// Jobs of one studio waiting or running at once, at most.
pub const MAX_IN_FLIGHT: usize = 5;
/// Days a finished file stays downloadable (the bucket's lifecycle rule removes it after).
pub const KEEP_DAYS: i64 = 7;

/// An export is not finished yet.
pub const NOT_READY: Reason = Reason { slug: "export-not-ready", title: "The export is not ready" };
/// Only a failed export is retried.
pub const NOT_RETRYABLE: Reason =
    Reason { slug: "export-not-retryable", title: "Only a failed export is retried" };
/// The file was removed after its days were up.
pub const EXPIRED: Reason = Reason { slug: "export-expired", title: "The export's file has expired" };
/// Too many exports of the studio are waiting or running.
pub const TOO_MANY: Reason = Reason { slug: "too-many-exports", title: "Too many exports at once" };

/// The file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// Comma-separated values, UTF-8, a header row.
    Csv,
    /// An Excel workbook with one sheet.
    Xlsx,
}

impl ExportFormat {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }

    /// Media type.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    /// Waiting for the worker.
    Pending,
    /// Being written.
    Processing,
    /// The file is ready.
    Done,
    /// It could not be written; see `error`, then retry.
    Failed,
}

/// What to export.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// The data.
    pub dataset: Dataset,
    /// The file format.
    pub format: ExportFormat,
    /// First day (studio's zone); default: the first of this month.
    #[schema(value_type = Option<String>, format = Date)]
    pub from: Option<Date>,
    /// Last day (included, at most 366 days after `from`); default: the end of `from`'s month.
    #[schema(value_type = Option<String>, format = Date)]
    pub to: Option<Date>,
}

/// How far a running export got: what the worker resumes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The multipart upload.
    pub upload_id: Option<String>,
    /// Parts uploaded, in order.
    pub parts: Vec<UploadedPart>,
    /// The store cursor after the last row in those parts (none: from the start).
    pub cursor: Option<String>,
    /// Whether every row has been read.
    pub read_all: bool,
}

/// An export job as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportJob {
    /// Id.
    pub id: ExportId,
    /// The studio.
    pub studio_id: StudioId,
    /// The data.
    pub dataset: Dataset,
    /// The format.
    pub format: ExportFormat,
    /// First day.
    pub from: Date,
    /// Last day.
    pub to: Date,
    /// The studio's zone when asked (rows' times are written in it).
    pub time_zone: String,
    /// Status.
    pub status: ExportStatus,
    /// Rows written so far (all of them once done).
    pub rows: u64,
    /// Bytes of the file, once done.
    #[serde(default)]
    pub size_bytes: u64,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Runs of the worker so far (a crashed run counts).
    #[serde(default)]
    pub attempts: u32,
    /// Which continuation is current: a message for an older one is stale.
    #[serde(default)]
    pub hop: u32,
    /// Where the worker resumes.
    #[serde(default)]
    pub progress: Progress,
    /// Whether the requester was told it finished.
    #[serde(default)]
    pub notified: bool,
    /// Who asked.
    pub requested_by: UserId,
    /// When.
    pub requested_at: Timestamp,
    /// When the worker first took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// Version, for guarded writes.
    pub version: i64,
}

/// What a caller sees of a job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportView {
    /// Id.
    #[schema(value_type = String)]
    pub id: ExportId,
    /// The data.
    pub dataset: Dataset,
    /// The format.
    pub format: ExportFormat,
    /// First day.
    #[schema(value_type = String, format = Date)]
    pub from: Date,
    /// Last day.
    #[schema(value_type = String, format = Date)]
    pub to: Date,
    /// Status.
    pub status: ExportStatus,
    /// Rows written so far.
    pub rows: u64,
    /// Bytes of the file, once done.
    pub size_bytes: u64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Who asked.
    #[schema(value_type = String)]
    pub requested_by: UserId,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: Timestamp,
    /// When it ended.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// Until when the file can be downloaded.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_until: Option<Timestamp>,
}

impl ExportJob {
    /// The view of it.
    pub fn view(&self) -> ExportView {
        ExportView {
            id: self.id.clone(),
            dataset: self.dataset,
            format: self.format,
            from: self.from,
            to: self.to,
            status: self.status,
            rows: self.rows,
            size_bytes: self.size_bytes,
            error: self.error.clone(),
            requested_by: self.requested_by.clone(),
            requested_at: self.requested_at,
            finished_at: self.finished_at,
            available_until: self.available_until(),
        }
    }

    /// Until when a done job's file is kept.
    pub fn available_until(&self) -> Option<Timestamp> {
        (self.status == ExportStatus::Done)
            .then_some(self.finished_at)
            .flatten()
            .map(|t| t + jiff::SignedDuration::from_hours(24 * KEEP_DAYS))
    }

    /// The blob key: ids only, never anything a caller typed.
    pub fn blob_key(&self) -> String {
        format!("exports/{}/{}.{}", self.studio_id, self.id, self.format.extension())
    }

    /// The stored item.
    pub fn to_item(&self) -> Result<Item, StoreError> {
        Item::from_record(&export_key(&self.studio_id, &self.id), self)
    }

    /// A write of this state over the version it was read at.
    pub fn replace(&self, read_version: i64) -> Result<WriteOp, StoreError> {
        Ok(WriteOp::put(self.to_item()?).when(Condition::version_is(read_version)))
    }
}

/// Key of a job.
pub fn export_key(studio: &StudioId, id: &ExportId) -> Key {
    studio_item(studio, format!("EXPORT#{id}"))
}

/// What the exports queue's message carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportMessage {
    /// The studio.
    pub studio_id: StudioId,
    /// The job.
    pub export_id: ExportId,
    /// The continuation it is for.
    pub hop: u32,
}

/// Stages `export.requested` for `job`'s current hop.
pub fn stage(platform: &Platform, job: &ExportJob) -> Result<(WriteOp, OutboxEntry), StoreError> {
    let message = ExportMessage { studio_id: job.studio_id.clone(), export_id: job.id.clone(), hop: job.hop };
    let event = Event {
        id: platform.ids.new_id(),
        kind: REQUESTED.to_owned(),
        studio_id: Some(job.studio_id.to_string()),
        occurred_at: platform.clock.now(),
        trace: None,
        payload: serde_json::to_value(message).map_err(|e| StoreError::Encode(e.to_string()))?,
    };
    atelier_platform::outbox::record(&event, &QUEUE)
}

/// What the job's writes stand for.
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
        AppError::Conflict(CHANGED_MEANWHILE, "the export changed meanwhile; read it again".into())
    }
}

/// Reads a job of the studio.
pub async fn load(
    platform: &Platform,
    studio: &StudioId,
    id: &ExportId,
) -> Result<Option<(ExportJob, i64)>, AppError> {
    match platform.store.get(&export_key(studio, id)).await? {
        Some(item) => {
            let job: ExportJob = item.to_record()?;
            let version = job.version;
            Ok(Some((job, version)))
        }
        None => Ok(None),
    }
}

async fn require(platform: &Platform, studio: &StudioId, id: &ExportId) -> Result<ExportJob, AppError> {
    load(platform, studio, id).await?.map(|(j, _)| j).ok_or(AppError::NotFound("export"))
}

/// The studio's jobs, newest first.
pub async fn list(
    platform: &Platform,
    studio: &StudioId,
    page: impl FnOnce(Query) -> Result<Query, AppError>,
) -> Result<(Vec<ExportView>, Option<atelier_platform::store::Cursor>), AppError> {
    let query = Query::partition(atelier_studios::studio_partition(studio))
        .sort(SortKey::BeginsWith("EXPORT#".into()))
        .descending();
    let found = platform.store.query(&page(query)?).await?;
    let jobs: Vec<ExportJob> = found.items.iter().map(Item::to_record).collect::<Result<_, _>>()?;
    Ok((jobs.iter().map(ExportJob::view).collect(), found.next))
}

/// One job.
pub async fn get(platform: &Platform, studio: &StudioId, id: &ExportId) -> Result<ExportView, AppError> {
    Ok(require(platform, studio, id).await?.view())
}

/// The period of a request, checked.
fn period(request: &ExportRequest, today: Date) -> Result<(Date, Date), Invalid> {
    let mut errors = Invalid::default();
    for (name, d) in [("from", request.from), ("to", request.to)] {
        if let Some(d) = d {
            time::check_date(&mut errors, name, d);
        }
    }
    errors.into_result()?;
    let from = request.from.unwrap_or_else(|| today.first_of_month());
    let to = request.to.unwrap_or_else(|| from.last_of_month());
    if to < from {
        return Err(Invalid::field("to", "must not be before from"));
    }
    if from.until(to).map(|s| s.get_days()).unwrap_or(i32::MAX) >= crate::period::MAX_DAYS {
        return Err(Invalid::field(
            "to",
            format!("an export spans at most {} days", crate::period::MAX_DAYS),
        ));
    }
    Ok((from, to))
}

/// Asks for an export: the job and its message in one transaction.
pub async fn request(
    platform: &Platform,
    actor: Actor<'_>,
    request: ExportRequest,
) -> Result<ExportView, AppError> {
    let studio = atelier_studios::get(platform, actor.studio_id()).await?;
    let zone = studio.profile.time_zone.clone();
    let (from, to) = period(&request, crate::dashboard::today(platform, &zone))?;
    let recent = Query::partition(atelier_studios::studio_partition(&studio.id))
        .sort(SortKey::BeginsWith("EXPORT#".into()))
        .descending()
        .limit(50);
    let in_flight = platform
        .store
        .query(&recent)
        .await?
        .items
        .iter()
        .filter_map(|i| i.to_record::<ExportJob>().ok())
        .filter(|j| matches!(j.status, ExportStatus::Pending | ExportStatus::Processing))
        .count();
    if in_flight >= MAX_IN_FLIGHT {
        return Err(AppError::Conflict(
            TOO_MANY,
            format!("{MAX_IN_FLIGHT} exports are waiting or running; try again when one is done"),
        ));
    }
    let now = platform.clock.now();
    let job = ExportJob {
        id: ExportId::new(platform.ids.new_id()),
        studio_id: studio.id.clone(),
        dataset: request.dataset,
        format: request.format,
        from,
        to,
        time_zone: zone,
        status: ExportStatus::Pending,
        rows: 0,
        size_bytes: 0,
        error: None,
        attempts: 0,
        hop: 0,
        progress: Progress::default(),
        notified: false,
        requested_by: actor.user_id().clone(),
        requested_at: now,
        started_at: None,
        finished_at: None,
        version: 1,
    };
    let mut tx = Tx::<Part>::new();
    tx.push(WriteOp::create(job.to_item()?), Part::Job);
    tx.event(stage(platform, &job)?);
    tx.push(
        actor.audit(
            platform,
            "exports.requested",
            "export",
            job.id.as_str(),
            serde_json::json!({ "dataset": job.dataset, "format": job.format, "from": from, "to": to }),
        )?,
        Part::Other,
    );
    tx.commit(platform).await.map_err(|f| f.into_error())?;
    Ok(job.view())
}

/// Runs a failed job again from the start.
pub async fn retry(platform: &Platform, actor: Actor<'_>, id: &ExportId) -> Result<ExportView, AppError> {
    let (mut job, version) =
        load(platform, actor.studio_id(), id).await?.ok_or(AppError::NotFound("export"))?;
    if job.status != ExportStatus::Failed {
        return Err(AppError::Conflict(
            NOT_RETRYABLE,
            format!("the export is {:?}, not failed", job.status).to_lowercase(),
        ));
    }
    job.status = ExportStatus::Pending;
    job.error = None;
    job.rows = 0;
    job.size_bytes = 0;
    job.notified = false;
    job.attempts = 0;
    job.hop += 1;
    job.progress = Progress::default();
    job.finished_at = None;
    job.version += 1;
    let mut tx = Tx::<Part>::new();
    tx.push(job.replace(version)?, Part::Job);
    tx.event(stage(platform, &job)?);
    tx.push(
        actor.audit(platform, "exports.retried", "export", job.id.as_str(), serde_json::json!({}))?,
        Part::Other,
    );
    tx.commit(platform).await.map_err(|f| f.into_error())?;
    Ok(job.view())
}

/// A short-lived download link.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DownloadLink {
    /// GET it with any HTTP client, no token needed, until it expires.
    pub url: String,
    /// When the link stops working.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

/// How long a download link works.
pub const LINK_LIFETIME: std::time::Duration = std::time::Duration::from_secs(300);

/// A link to a done job's file.
pub async fn link(platform: &Platform, studio: &StudioId, id: &ExportId) -> Result<DownloadLink, AppError> {
    let job = require(platform, studio, id).await?;
    if job.status != ExportStatus::Done {
        return Err(AppError::Conflict(NOT_READY, format!("the export is {}", status_name(job.status))));
    }
    let now = platform.clock.now();
    if job.available_until().is_some_and(|until| until <= now) {
        return Err(AppError::Gone(EXPIRED, format!("files are kept {KEEP_DAYS} days; export again")));
    }
    let url = platform
        .blobs
        .presign_get(&job.blob_key(), LINK_LIFETIME)
        .await
        .map_err(|e| AppError::failed("signing a download link", e))?;
    Ok(DownloadLink {
        url,
        expires_at: now + jiff::SignedDuration::try_from(LINK_LIFETIME).unwrap_or_default(),
    })
}

/// A status as written in messages.
pub fn status_name(status: ExportStatus) -> &'static str {
    match status {
        ExportStatus::Pending => "pending",
        ExportStatus::Processing => "processing",
        ExportStatus::Done => "done",
        ExportStatus::Failed => "failed",
    }
}
