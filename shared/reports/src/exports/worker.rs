//! The exports worker: writes a job's file to the blob store in parts and resumes where it left
//! off. CSV rows are read a page at a time and uploaded as a part once a part's worth has
//! gathered; each part is recorded with the store cursor after its last row, so a crashed run
//! (redelivered) or a run out of time (a continuation message, `hop + 1`) goes on from the last
//! part, and memory holds one part at most. XLSX is written by `rust_xlsxwriter` in
//! constant-memory mode into a temporary file and uploaded in parts; a crashed XLSX run starts
//! again (a workbook cannot be resumed), which Excel's row limit keeps short.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use atelier_notifications::{Notice, Topic, Var, delivery};
use atelier_platform::events::Event;
use atelier_platform::store::Cursor;
use atelier_platform::tx::Tx;
use atelier_platform::worker::{EventHandler, HandlerError};
use atelier_platform::{AppError, Platform};
use bytes::Bytes;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::cells::Cell;
use super::datasets::{Span, row};
use super::writer::{CsvParts, WriteError, XlsxFile};
use super::{ExportFormat, ExportJob, ExportMessage, ExportStatus, Part, Progress, REQUESTED, load, stage};

/// How the worker sizes its work.
#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// Bytes gathered before a part is uploaded (S3 wants at least 5 MiB but the last).
    pub part_size: usize,
    /// Rows read per store query.
    pub page_size: u32,
    /// Time one run spends before handing over to a continuation (below the queue's lease).
    pub time_budget: Duration,
    /// Continuations allowed before the job fails as too large.
    pub max_hops: u32,
    /// Runs per hop (crashes included); the last one marks the job failed rather than fail
    /// itself, so it is below the queue's five receives (the fifth is for a run killed mid-way).
    pub max_attempts: u32,
    /// Where XLSX workbooks are assembled.
    pub temp_dir: PathBuf,
}

impl ExportSettings {
    /// Settings for a queue whose messages are leased for `lease`. The lease is six times the
    /// worker's timeout (AWS's advice for SQS event sources), so a run spends two thirds of a
    /// timeout: a ninth of the lease (20 s of a 30 s timeout), at most ten minutes.
    pub fn for_lease(lease: Duration) -> ExportSettings {
        ExportSettings {
            part_size: 8 * 1024 * 1024,
            page_size: 500,
            time_budget: (lease / 9).min(Duration::from_secs(600)),
            max_hops: 100,
            max_attempts: 4,
            temp_dir: std::env::temp_dir(),
        }
    }
}

/// Why a run stopped short.
enum Stop {
    /// The job cannot be written: it fails with this reason.
    Permanent(String),
    /// Something transient failed: the message is delivered again.
    Transient(AppError),
}

impl From<AppError> for Stop {
    fn from(e: AppError) -> Self {
        Stop::Transient(e)
    }
}

impl From<atelier_platform::store::StoreError> for Stop {
    fn from(e: atelier_platform::store::StoreError) -> Self {
        Stop::Transient(e.into())
    }
}

impl From<atelier_platform::blob::BlobError> for Stop {
    fn from(e: atelier_platform::blob::BlobError) -> Self {
        Stop::Transient(AppError::failed("the blob store", e))
    }
}

impl From<WriteError> for Stop {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::TooManyRows => Stop::Permanent(e.to_string()),
            other => Stop::Transient(AppError::failed("writing the file", other)),
        }
    }
}

/// How a run ended.
enum Step {
    /// The file is complete.
    Done,
    /// A continuation was queued.
    Continued,
}

/// The exports worker.
pub struct ExportWorker {
    platform: Platform,
    settings: ExportSettings,
}

impl ExportWorker {
    /// A worker with `settings`.
    pub fn new(platform: Platform, settings: ExportSettings) -> ExportWorker {
        ExportWorker { platform, settings }
    }

    /// Writes the job, keeping the version current; with `next`, stages the continuation.
    async fn save(&self, job: &mut ExportJob, version: &mut i64, next: bool) -> Result<(), AppError> {
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

    async fn run(&self, message: &ExportMessage) -> Result<(), AppError> {
        let platform = &self.platform;
        let Some((mut job, mut version)) = load(platform, &message.studio_id, &message.export_id).await?
        else {
            return Ok(());
        };
        if message.hop != job.hop {
            return Ok(());
        }
        if matches!(job.status, ExportStatus::Done | ExportStatus::Failed) {
            // Finished, but the notice may not have gone out (a failure after the save).
            return self.tell(&mut job, &mut version).await;
        }
        job.attempts += 1;
        if job.attempts > self.settings.max_attempts {
            let reason = format!(
                "gave up after {} attempts (a run stopped without a word)",
                self.settings.max_attempts
            );
            return self.fail(&mut job, &mut version, reason).await;
        }
        if job.status == ExportStatus::Pending {
            job.status = ExportStatus::Processing;
            job.started_at = Some(platform.clock.now());
        }
        self.save(&mut job, &mut version, false).await?;
        let step = match job.format {
            ExportFormat::Csv => self.csv(&mut job, &mut version).await,
            ExportFormat::Xlsx => self.xlsx(&mut job, &mut version).await,
        };
        match step {
            Ok(Step::Continued) => Ok(()),
            Ok(Step::Done) => {
                job.status = ExportStatus::Done;
                job.finished_at = Some(platform.clock.now());
                job.progress = Progress::default();
                self.save(&mut job, &mut version, false).await?;
                self.measure(&job);
                self.tell(&mut job, &mut version).await
            }
            Err(Stop::Permanent(reason)) => self.fail(&mut job, &mut version, reason).await,
            // The last attempt marks the job failed, so it never sits `processing` after its
            // message is dead-lettered.
            Err(Stop::Transient(e)) if job.attempts >= self.settings.max_attempts => {
                let reason = format!("gave up after {} attempts: {e}", job.attempts);
                self.fail(&mut job, &mut version, reason).await
            }
            Err(Stop::Transient(e)) => Err(e),
        }
    }

    /// A finished export's time from request to file, and its rows.
    fn measure(&self, job: &ExportJob) {
        use atelier_platform::metrics::Metric;
        let format = [(
            "format",
            match job.format {
                ExportFormat::Csv => "csv",
                ExportFormat::Xlsx => "xlsx",
            },
        )];
        if let Some(finished) = job.finished_at {
            let ms = finished.duration_since(job.requested_at).as_secs_f64() * 1000.0;
            self.platform.metrics.record(Metric::ExportDuration, ms.max(0.0), &format);
        }
        self.platform.metrics.record(Metric::ExportRows, job.rows as f64, &format);
    }

    /// Tells the requester once the job is finished and saved, and records that it did (a
    /// redelivery after a failed notice tries again; the notice itself is keyed, so never twice).
    async fn tell(&self, job: &mut ExportJob, version: &mut i64) -> Result<(), AppError> {
        if job.notified {
            return Ok(());
        }
        self.notify(job).await?;
        job.notified = true;
        self.save(job, version, false).await
    }

    async fn fail(&self, job: &mut ExportJob, version: &mut i64, reason: String) -> Result<(), AppError> {
        if let Some(upload) = job.progress.upload_id.take() {
            let _ = self.platform.blobs.abort_upload(&job.blob_key(), &upload).await;
        }
        job.status = ExportStatus::Failed;
        job.error = Some(reason);
        job.finished_at = Some(self.platform.clock.now());
        job.progress = Progress::default();
        self.save(job, version, false).await?;
        self.tell(job, version).await
    }

    fn span(job: &ExportJob) -> Result<(Span, jiff::tz::TimeZone), AppError> {
        let zone = jiff::tz::TimeZone::get(&job.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        let start = |d: jiff::civil::Date| {
            zone.to_ambiguous_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .compatible()
                .map_err(|e| AppError::failed("a day's start", e))
        };
        let after = job.to.tomorrow().map_err(|e| AppError::failed("the day after", e))?;
        Ok((Span { from: start(job.from)?, until: start(after)? }, zone))
    }

    /// One page of rows after `cursor`, and the cursor after it (none: the last page).
    async fn page(
        &self,
        job: &ExportJob,
        span: Span,
        zone: &jiff::tz::TimeZone,
        cursor: Option<&str>,
    ) -> Result<(Vec<Vec<Cell>>, Option<String>), Stop> {
        let mut query = job.dataset.query(&job.studio_id, span).limit(self.settings.page_size);
        if let Some(c) = cursor {
            query = query.after(
                Cursor::decode(c)
                    .map_err(|e| Stop::Permanent(format!("a stored cursor is unreadable: {e}")))?,
            );
        }
        let page = self.platform.store.query(&query).await?;
        let columns = job.dataset.columns();
        let rows = page
            .items
            .iter()
            .filter(|i| job.dataset.keeps(i))
            .map(|i| i.to_record::<Value>().map(|r| row(columns, &r, zone)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((rows, page.next.map(|c| c.encode())))
    }

    async fn csv(&self, job: &mut ExportJob, version: &mut i64) -> Result<Step, Stop> {
        let blobs = &self.platform.blobs;
        let key = job.blob_key();
        let deadline = Instant::now() + self.settings.time_budget;
        if job.progress.upload_id.is_none() {
            job.progress = Progress {
                upload_id: Some(blobs.start_upload(&key, job.format.content_type()).await?),
                ..Progress::default()
            };
            job.rows = 0;
            job.size_bytes = 0;
            self.save(job, version, false).await?;
        }
        let upload = job.progress.upload_id.clone().unwrap_or_default();
        let (span, zone) = Self::span(job)?;
        let mut out = CsvParts::default();
        if job.progress.parts.is_empty() && job.progress.cursor.is_none() && !job.progress.read_all {
            let headers: Vec<&str> = job.dataset.columns().iter().map(|c| c.header).collect();
            out.header(&headers)?;
        }
        let (mut cursor, mut read_all, mut pending_rows) =
            (job.progress.cursor.clone(), job.progress.read_all, 0u64);
        loop {
            if !read_all {
                let (rows, next) = self.page(job, span, &zone, cursor.as_deref()).await?;
                for r in &rows {
                    out.row(r)?;
                }
                pending_rows += rows.len() as u64;
                read_all = next.is_none();
                cursor = next;
            }
            if out.pending() < self.settings.part_size && !read_all {
                continue;
            }
            let bytes = out.take()?;
            if !bytes.is_empty() {
                let number = i32::try_from(job.progress.parts.len() + 1).unwrap_or(i32::MAX);
                job.size_bytes += bytes.len() as u64;
                let part = blobs.upload_part(&key, &upload, number, Bytes::from(bytes)).await?;
                job.progress.parts.push(part);
            }
            job.rows += pending_rows;
            pending_rows = 0;
            job.progress.cursor = cursor.clone();
            job.progress.read_all = read_all;
            if read_all {
                self.save(job, version, false).await?;
                self.complete(job).await?;
                return Ok(Step::Done);
            }
            if Instant::now() >= deadline {
                job.hop += 1;
                if job.hop > self.settings.max_hops {
                    return Err(Stop::Permanent(format!(
                        "more than {} runs of the worker; export a shorter period",
                        self.settings.max_hops
                    )));
                }
                job.attempts = 0;
                self.save(job, version, true).await?;
                return Ok(Step::Continued);
            }
            self.save(job, version, false).await?;
        }
    }

    /// Joins the parts; a run that crashed after joining them finds the file there.
    async fn complete(&self, job: &ExportJob) -> Result<(), Stop> {
        let blobs = &self.platform.blobs;
        let key = job.blob_key();
        let upload = job.progress.upload_id.clone().unwrap_or_default();
        match blobs.complete_upload(&key, &upload, &job.progress.parts).await {
            Ok(()) => Ok(()),
            Err(e) => match blobs.size(&key).await? {
                Some(size) if size == job.size_bytes => Ok(()),
                _ => Err(e.into()),
            },
        }
    }

    async fn xlsx(&self, job: &mut ExportJob, version: &mut i64) -> Result<Step, Stop> {
        let blobs = &self.platform.blobs;
        let key = job.blob_key();
        // A workbook cannot be resumed: a rerun starts again.
        if let Some(old) = job.progress.upload_id.take() {
            blobs.abort_upload(&key, &old).await?;
        }
        job.progress = Progress::default();
        job.rows = 0;
        job.size_bytes = 0;
        let (span, zone) = Self::span(job)?;
        let dir = tempfile::tempdir_in(&self.settings.temp_dir)
            .map_err(|e| Stop::Transient(AppError::failed("a temporary directory", e)))?;
        let headers: Vec<&str> = job.dataset.columns().iter().map(|c| c.header).collect();
        let mut file = XlsxFile::new(job.dataset.as_str(), &headers, dir.path())?;
        let mut cursor: Option<String> = None;
        let mut pages = 0u32;
        let deadline = Instant::now() + self.settings.time_budget;
        loop {
            let (rows, next) = self.page(job, span, &zone, cursor.as_deref()).await?;
            for r in &rows {
                file.row(r)?;
            }
            pages += 1;
            // A workbook cannot continue in another run: one that does not fit says so.
            if next.is_some() && Instant::now() >= deadline {
                return Err(Stop::Permanent(format!(
                    "the workbook needs more than one run ({} rows read so far); export CSV, which has no such limit, or a shorter period",
                    file.rows()
                )));
            }
            if pages.is_multiple_of(20) {
                job.rows = file.rows();
                self.save(job, version, false).await?;
            }
            if next.is_none() {
                break;
            }
            cursor = next;
        }
        job.rows = file.rows();
        let path = dir.path().join("export.xlsx");
        let saved = path.clone();
        tokio::task::spawn_blocking(move || file.save(&saved))
            .await
            .map_err(|e| Stop::Transient(AppError::failed("saving the workbook", e)))??;
        let upload = blobs.start_upload(&key, job.format.content_type()).await?;
        job.progress.upload_id = Some(upload.clone());
        let mut reader = tokio::fs::File::open(&path)
            .await
            .map_err(|e| Stop::Transient(AppError::failed("reading the workbook", e)))?;
        loop {
            let mut chunk = Vec::with_capacity(self.settings.part_size);
            let read = (&mut reader)
                .take(self.settings.part_size as u64)
                .read_to_end(&mut chunk)
                .await
                .map_err(|e| Stop::Transient(AppError::failed("reading the workbook", e)))?;
            if read == 0 && !job.progress.parts.is_empty() {
                break;
            }
            let number = i32::try_from(job.progress.parts.len() + 1).unwrap_or(i32::MAX);
            job.size_bytes += read as u64;
            job.progress.parts.push(blobs.upload_part(&key, &upload, number, Bytes::from(chunk)).await?);
            if read < self.settings.part_size {
                break;
            }
        }
        job.progress.read_all = true;
        self.save(job, version, false).await?;
        self.complete(job).await?;
        Ok(Step::Done)
    }

    /// Tells the requester (once per run: the notice is keyed by the job and its hop).
    async fn notify(&self, job: &ExportJob) -> Result<(), AppError> {
        let platform = &self.platform;
        let studio = atelier_studios::get(platform, &job.studio_id).await?;
        let outcome = if job.status == ExportStatus::Failed { "failed" } else { "ready" };
        for person in atelier_identity::profiles(platform, std::slice::from_ref(&job.requested_by)).await? {
            let notice = Notice::new(Topic::ExportFinished, atelier_identity::recipient(&person))
                .in_studio(atelier_studios::notice_context(&studio))
                .with("dataset", Var::Text(job.dataset.as_str().replace('_', " ")))
                .with("format", Var::Text(job.format.extension().to_uppercase()))
                .with("rows", Var::Number(i64::try_from(job.rows).unwrap_or(i64::MAX)))
                .with("outcome", Var::Text(outcome.into()))
                .with("link", Var::Text(format!("/v1/studios/{}/exports/{}", job.studio_id, job.id)));
            delivery::dispatch(
                platform,
                &format!("export-{}-{}-{outcome}", job.id, job.hop),
                platform.clock.now(),
                &notice,
            )
            .await
            .map_err(|e| AppError::failed("telling the requester", e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl EventHandler for ExportWorker {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let message: ExportMessage = serde_json::from_value(event.payload.clone())
            .map_err(|e| HandlerError::failed(format!("malformed {}", event.kind), e))?;
        Ok(self.run(&message).await?)
    }
}

/// The handlers of the exports queue, for messages leased for `lease`.
pub fn handlers(platform: &Platform, lease: Duration) -> Vec<(&'static str, Arc<dyn EventHandler>)> {
    handlers_with(platform, ExportSettings::for_lease(lease))
}

/// The same with explicit settings (tests use small parts and budgets).
pub fn handlers_with(
    platform: &Platform,
    settings: ExportSettings,
) -> Vec<(&'static str, Arc<dyn EventHandler>)> {
    vec![(REQUESTED, Arc::new(ExportWorker::new(platform.clone(), settings)))]
}
