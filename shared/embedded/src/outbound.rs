//! Email and SMS on the local server: each message is a file under the data directory — an
//! `.eml` per email (open it in any mail client) and a `.txt` per SMS — and a log line names it.
//! Nothing leaves the machine.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use atelier_platform::clock::Clock;
use atelier_platform::outbound::{MailSender, OutgoingEmail, OutgoingSms, SendError, SmsSender, is_e164};

/// Writes each email as `<data dir>/mail/<time>-<id>.eml`.
pub struct MailFiles {
    dir: PathBuf,
    from: String,
    clock: Arc<dyn Clock>,
}

impl MailFiles {
    /// Email into `dir`, sent from `from` (an address, e.g. `no-reply@atelier.test`).
    pub fn new(dir: &Path, from: &str, clock: Arc<dyn Clock>) -> MailFiles {
        MailFiles { dir: dir.to_owned(), from: from.to_owned(), clock }
    }
}

/// Writes each SMS as `<data dir>/sms/<time>-<id>.txt`.
pub struct SmsFiles {
    dir: PathBuf,
    clock: Arc<dyn Clock>,
}

impl SmsFiles {
    /// SMS into `dir`.
    pub fn new(dir: &Path, clock: Arc<dyn Clock>) -> SmsFiles {
        SmsFiles { dir: dir.to_owned(), clock }
    }
}

fn file_name(clock: &dyn Clock, extension: &str) -> String {
    let now = clock.now();
    format!("{}-{}.{extension}", now.strftime("%Y%m%dT%H%M%S"), ulid::Ulid::generate())
}

async fn write(dir: &Path, name: &str, bytes: Vec<u8>) -> Result<String, SendError> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| SendError::transient("creating the outbox directory", e))?;
    let path = dir.join(name);
    tokio::fs::write(&path, bytes).await.map_err(|e| SendError::transient("writing a message file", e))?;
    Ok(path.display().to_string())
}

#[async_trait]
impl MailSender for MailFiles {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        let name = file_name(self.clock.as_ref(), "eml");
        let message_id = format!("{}@atelier.local", name.trim_end_matches(".eml"));
        let bytes = mail_builder::MessageBuilder::new()
            .from(("Atelier", self.from.as_str()))
            .to((email.to_name.as_str(), email.to.as_str()))
            .subject(email.subject.as_str())
            .date(self.clock.now().as_second())
            .message_id(message_id)
            .text_body(email.text.as_str())
            .html_body(email.html.as_str())
            .write_to_vec()
            .map_err(|e| SendError::transient("building the message", e))?;
        let path = write(&self.dir, &name, bytes).await?;
        tracing::info!(path = %path, to = %email.to, subject = %email.subject, "email written");
        Ok(path)
    }
}

#[async_trait]
impl SmsSender for SmsFiles {
    async fn send(&self, sms: &OutgoingSms) -> Result<String, SendError> {
        if !is_e164(&sms.to) {
            return Err(SendError::Permanent(format!("{} is not an E.164 phone number", sms.to)));
        }
        let name = file_name(self.clock.as_ref(), "txt");
        let path = write(&self.dir, &name, format!("To: {}\n\n{}\n", sms.to, sms.text).into_bytes()).await?;
        tracing::info!(path = %path, to = %sms.to, "SMS written");
        Ok(path)
    }
}
