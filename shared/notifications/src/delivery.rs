//! Sending one notice: the channels its recipient and studio chose, the template in the
//! recipient's language, and each (event, recipient, channel) at most once however often the
//! queue delivers the event. A claim item per send holds that promise: taken before sending,
//! marked done with the outcome after. A transient failure gives the claim back and fails the
//! message so the queue retries it (channels already done are skipped then); a permanent one is
//! recorded on the claim and not retried. A crash between the provider accepting a message and
//! the claim being marked done sends it once more after the claim's lease (at-least-once in
//! that window only).

use std::time::Duration;

use atelier_domain::language::Language;
use atelier_platform::Platform;
use atelier_platform::outbound::{OutgoingEmail, OutgoingSms, SendError};
use atelier_platform::store::{Key, Value};
use atelier_platform::worker::{self, Claim, HandlerError};
use jiff::Timestamp;

use crate::preferences::{self, NotificationChoices};
use crate::templates::{self, Rendered, TemplateText, Var};
use crate::topics::Channel;
use crate::{Notice, deliver_in_app};

/// How long a send may take before another delivery may take it over.
const SEND_LEASE: Duration = Duration::from_secs(120);

/// Key of the claim on sending `event_id` to `recipient` on `channel`.
pub fn sent_key(event_id: &str, channel: Channel, recipient: &str) -> Key {
    // Addresses are hashed: the claim outlives nothing, but keys should not hold contact data.
    let who = atelier_platform::sha256_hex(recipient.as_bytes());
    Key::new(format!("EVENT#{event_id}"), format!("SENT#{}#{}", channel.as_str(), &who[..24]))
}

/// The template for the notice: the studio's override in `language` if it has one.
async fn template(
    platform: &Platform,
    notice: &Notice,
    language: Language,
) -> Result<(TemplateText, bool), HandlerError> {
    if let Some(studio) = &notice.studio
        && let Some(item) =
            platform.store.get(&templates::override_key(&studio.id, notice.topic, language)).await?
    {
        return Ok((item.to_record()?, true));
    }
    Ok((templates::builtin(notice.topic, language), false))
}

/// Renders `notice` for its recipient.
pub async fn render(platform: &Platform, notice: &Notice) -> Result<Rendered, HandlerError> {
    let language = notice.to.language.or(notice.studio.as_ref().map(|s| s.language)).unwrap_or_default();
    let zone = notice.studio.as_ref().map_or("UTC", |s| s.time_zone.as_str());
    let mut vars = notice.vars.clone();
    vars.entry("recipient".into()).or_insert_with(|| Var::Text(notice.to.name.clone()));
    if let Some(studio) = &notice.studio {
        vars.entry("studio".into()).or_insert_with(|| Var::Text(studio.name.clone()));
    }
    let ctx = templates::context(&vars, language, zone);
    let (template, overridden) = template(platform, notice, language).await?;
    match templates::render(&template, &ctx) {
        Ok(rendered) => Ok(rendered),
        // An override was valid when saved; if it still fails (a variable this event lacks),
        // the notice goes out in the built-in words rather than not at all.
        Err(e) if overridden => {
            tracing::warn!(topic = notice.topic.as_str(), error = %e, "studio template failed; using the built-in one");
            templates::render(&templates::builtin(notice.topic, language), &ctx)
                .map_err(|e| HandlerError::failed("rendering a built-in template", e))
        }
        Err(e) => Err(HandlerError::failed("rendering a built-in template", e)),
    }
}

/// Sends `notice` (the event `event_id`) on every channel it should go on.
pub async fn dispatch(
    platform: &Platform,
    event_id: &str,
    occurred_at: Timestamp,
    notice: &Notice,
) -> Result<(), HandlerError> {
    let user: Option<NotificationChoices> = match &notice.to.user_id {
        Some(user_id) => Some(preferences::of_user(platform, user_id).await?),
        None => None,
    };
    let studio: Option<NotificationChoices> = match &notice.studio {
        Some(studio) => Some(preferences::of_studio(platform, &studio.id).await?),
        None => None,
    };
    let reachable = |channel| match channel {
        Channel::InApp => notice.to.user_id.is_some(),
        Channel::Email => notice.to.email.is_some(),
        Channel::Sms => notice.to.phone.is_some(),
    };
    let chosen: Vec<Channel> = Channel::ALL
        .into_iter()
        .filter(|c| reachable(*c) && preferences::wants(notice.topic, *c, user.as_ref(), studio.as_ref()))
        .collect();
    // A transactional notice reaches its recipient whatever the choices combined to: on the
    // first channel they can be reached on.
    let fallback = (chosen.is_empty() && notice.topic.transactional())
        .then(|| Channel::ALL.into_iter().find(|c| reachable(*c)))
        .flatten();
    let wants = |channel| chosen.contains(&channel) || fallback == Some(channel);
    let rendered = render(platform, notice).await?;
    let topic = notice.topic.as_str();
    if wants(Channel::InApp)
        && let Some(user_id) = &notice.to.user_id
        && deliver_in_app(&platform.store, event_id, occurred_at, user_id, notice.topic, &rendered).await?
    {
        counted(platform, Channel::InApp, "sent");
    }
    if wants(Channel::Email)
        && let Some(address) = &notice.to.email
    {
        let email = OutgoingEmail {
            to: address.clone(),
            to_name: notice.to.name.clone(),
            subject: rendered.subject.clone(),
            text: rendered.text.clone(),
            html: rendered.html.clone(),
        };
        send_once(platform, event_id, Channel::Email, address, topic, platform.outbound.mail.send(&email))
            .await?;
    }
    if wants(Channel::Sms)
        && let Some(phone) = &notice.to.phone
    {
        let sms = OutgoingSms { to: phone.clone(), text: format!("{}: {}", rendered.subject, rendered.text) };
        send_once(platform, event_id, Channel::Sms, phone, topic, platform.outbound.sms.send(&sms)).await?;
    }
    Ok(())
}

fn counted(platform: &Platform, channel: Channel, outcome: &'static str) {
    let labels = [("channel", channel.as_str()), ("outcome", outcome)];
    platform.metrics.count(atelier_platform::metrics::Metric::Notifications, &labels);
}

/// Runs `send` unless this (event, channel, recipient) was sent before; records the outcome.
async fn send_once(
    platform: &Platform,
    event_id: &str,
    channel: Channel,
    recipient: &str,
    topic: &str,
    send: impl Future<Output = Result<String, SendError>>,
) -> Result<(), HandlerError> {
    let key = sent_key(event_id, channel, recipient);
    match worker::claim(&platform.store, &key, platform.clock.now().as_second(), SEND_LEASE).await? {
        Claim::AlreadyDone => return Ok(()),
        Claim::Busy => {
            return Err(HandlerError::Refused(format!(
                "another delivery is sending {event_id} by {}",
                channel.as_str()
            )));
        }
        Claim::Claimed => {}
    }
    let outcome = |outcome: &str, detail: String| {
        vec![("outcome".to_owned(), Value::S(outcome.to_owned())), ("detail".to_owned(), Value::S(detail))]
    };
    match send.await {
        Ok(provider_id) => {
            tracing::info!(event_id, channel = channel.as_str(), topic, provider_id = %provider_id, "notice sent");
            worker::finish(&platform.store, key, outcome("sent", provider_id)).await?;
            counted(platform, channel, "sent");
            Ok(())
        }
        Err(SendError::Permanent(reason)) => {
            tracing::warn!(event_id, channel = channel.as_str(), topic, reason = %reason, "notice refused for good; not retried");
            worker::finish(&platform.store, key, outcome("failed", reason)).await?;
            counted(platform, channel, "refused");
            Ok(())
        }
        Err(e) => {
            worker::release(&platform.store, key).await;
            counted(platform, channel, "retrying");
            Err(HandlerError::failed(format!("sending {topic} by {}", channel.as_str()), e))
        }
    }
}
