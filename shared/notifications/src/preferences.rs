//! Who hears about what, on which channel: a user's choices per topic and channel, over their
//! studio's defaults, over each topic's built-in defaults. A transactional topic (a booking's
//! confirmation, a cancellation, a password change) keeps at least one channel: choices that
//! would turn it off everywhere are refused.

use std::collections::BTreeMap;

use atelier_domain::ids::{StudioId, UserId};
use atelier_platform::error::Reason;
use atelier_platform::store::{Item, Key, WriteOp};
use atelier_platform::{AppError, Platform};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::topics::{Channel, Topic};

/// Choices that would silence a transactional notice on every channel.
pub const TRANSACTIONAL_NOTICE: Reason =
    Reason { slug: "transactional-notice", title: "A transactional notice needs a channel" };

/// Channels turned on (`true`) or off (`false`) for one topic; absent: not chosen here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
// For the schema (`additionalProperties: false`); the `Deserialize` below enforces it.
#[serde(deny_unknown_fields)]
pub struct ChannelChoices {
    /// The in-app inbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_app: Option<bool>,
    /// Email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<bool>,
    /// SMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<bool>,
}

impl<'de> Deserialize<'de> for ChannelChoices {
    /// From a JSON object only: serde would otherwise take a struct from an array too.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ChannelChoices, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Fields {
            #[serde(default)]
            in_app: Option<bool>,
            #[serde(default)]
            email: Option<bool>,
            #[serde(default)]
            sms: Option<bool>,
        }
        let object = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let fields: Fields =
            serde_json::from_value(serde_json::Value::Object(object)).map_err(serde::de::Error::custom)?;
        Ok(ChannelChoices { in_app: fields.in_app, email: fields.email, sms: fields.sms })
    }
}

impl ChannelChoices {
    /// The choice for `channel`.
    pub fn get(&self, channel: Channel) -> Option<bool> {
        match channel {
            Channel::InApp => self.in_app,
            Channel::Email => self.email,
            Channel::Sms => self.sms,
        }
    }
}

/// Choices per topic (a user's preferences, or a studio's defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationChoices {
    /// Per topic; topics left out keep the defaults.
    #[serde(default)]
    pub topics: BTreeMap<Topic, ChannelChoices>,
}

/// Key of a user's preferences.
pub fn user_key(user_id: &UserId) -> Key {
    Key::new(format!("USER#{user_id}"), "NOTIFICATION_PREFERENCES")
}

/// Key of a studio's defaults.
pub fn studio_key(studio_id: &StudioId) -> Key {
    Key::new(format!("STUDIO#{studio_id}"), "NOTIFICATION_DEFAULTS")
}

/// Whether `channel` carries `topic` for someone with `user` choices in a studio with `studio`
/// defaults: the nearest choice wins.
pub fn wants(
    topic: Topic,
    channel: Channel,
    user: Option<&NotificationChoices>,
    studio: Option<&NotificationChoices>,
) -> bool {
    let chosen = |choices: Option<&NotificationChoices>| {
        choices.and_then(|c| c.topics.get(&topic)).and_then(|c| c.get(channel))
    };
    chosen(user).or_else(|| chosen(studio)).unwrap_or_else(|| topic.default_on(channel))
}

/// Refuses choices that leave a transactional topic with no channel.
fn check(choices: &NotificationChoices) -> Result<(), AppError> {
    for (topic, _) in choices.topics.iter().filter(|(topic, _)| topic.transactional()) {
        if !Channel::ALL.iter().any(|channel| wants(*topic, *channel, Some(choices), None)) {
            return Err(AppError::Unprocessable(
                TRANSACTIONAL_NOTICE,
                format!("{} is transactional: keep at least one channel on", topic.as_str()),
            ));
        }
    }
    Ok(())
}

async fn read(platform: &Platform, key: &Key) -> Result<NotificationChoices, AppError> {
    Ok(match platform.store.get(key).await? {
        Some(item) => item.to_record()?,
        None => NotificationChoices::default(),
    })
}

async fn write(platform: &Platform, key: &Key, choices: &NotificationChoices) -> Result<(), AppError> {
    check(choices)?;
    platform.store.write(WriteOp::put(Item::from_record(key, choices)?)).await?;
    Ok(())
}

/// A user's preferences (empty when never set).
pub async fn of_user(platform: &Platform, user_id: &UserId) -> Result<NotificationChoices, AppError> {
    read(platform, &user_key(user_id)).await
}

/// Replaces a user's preferences.
pub async fn set_for_user(
    platform: &Platform,
    user_id: &UserId,
    choices: &NotificationChoices,
) -> Result<(), AppError> {
    write(platform, &user_key(user_id), choices).await
}

/// A studio's defaults (empty when never set).
pub async fn of_studio(platform: &Platform, studio_id: &StudioId) -> Result<NotificationChoices, AppError> {
    read(platform, &studio_key(studio_id)).await
}

/// Replaces a studio's defaults.
pub async fn set_for_studio(
    platform: &Platform,
    studio_id: &StudioId,
    choices: &NotificationChoices,
) -> Result<(), AppError> {
    write(platform, &studio_key(studio_id), choices).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices(topic: Topic, c: ChannelChoices) -> NotificationChoices {
        NotificationChoices { topics: BTreeMap::from([(topic, c)]) }
    }

    #[test]
    fn the_nearest_choice_wins() {
        let studio =
            choices(Topic::BookingReminder, ChannelChoices { sms: Some(true), ..Default::default() });
        let user = choices(Topic::BookingReminder, ChannelChoices { sms: Some(false), ..Default::default() });
        assert!(!wants(Topic::BookingReminder, Channel::Sms, None, None));
        assert!(wants(Topic::BookingReminder, Channel::Sms, None, Some(&studio)));
        assert!(!wants(Topic::BookingReminder, Channel::Sms, Some(&user), Some(&studio)));
        assert!(wants(Topic::BookingReminder, Channel::Email, Some(&user), Some(&studio)));
    }

    #[test]
    fn choices_are_objects_only() {
        let ok: NotificationChoices =
            serde_json::from_value(serde_json::json!({ "topics": { "booking_held": { "sms": true } } }))
                .expect("object");
        assert_eq!(ok.topics[&Topic::BookingHeld].sms, Some(true));
        for bad in [
            serde_json::json!({ "topics": { "booking_held": [null, null] } }),
            serde_json::json!({ "topics": { "booking_held": { "fax": true } } }),
            serde_json::json!({ "topics": { "booking_held": { "sms": "yes" } } }),
        ] {
            assert!(serde_json::from_value::<NotificationChoices>(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_transactional_topic_keeps_a_channel() {
        let off = ChannelChoices { in_app: Some(false), email: Some(false), sms: None };
        assert!(check(&choices(Topic::BookingConfirmed, off)).is_err());
        assert!(check(&choices(Topic::BookingConfirmed, ChannelChoices { sms: Some(true), ..off })).is_ok());
        // Marketing-like notices may be silenced entirely.
        assert!(check(&choices(Topic::BookingCompleted, off)).is_ok());
    }
}
