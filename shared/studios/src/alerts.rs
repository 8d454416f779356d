//! Notices to a studio's owners about the studio itself, from events other capabilities raise
//! (a webhook endpoint turned off for failing).

use std::sync::Arc;

use async_trait::async_trait;
use atelier_domain::identity::Role;
use atelier_domain::ids::StudioId;
use atelier_notifications::{Notice, Topic, Var, delivery};
use atelier_platform::Platform;
use atelier_platform::events::Event;
use atelier_platform::worker::{EventHandler, HandlerError};
use jiff::Timestamp;
use serde::Deserialize;

/// The handlers this capability runs on the notifications queue.
pub fn handlers(platform: &Platform) -> Vec<(&'static str, Arc<dyn EventHandler>)> {
    vec![(
        atelier_notifications::webhooks::ENDPOINT_DISABLED,
        Arc::new(EndpointDisabled { platform: platform.clone() }),
    )]
}

#[derive(Deserialize)]
struct Disabled {
    studio_id: StudioId,
    url: String,
    failing_since: Timestamp,
}

/// Tells each owner that an endpoint was turned off.
struct EndpointDisabled {
    platform: Platform,
}

#[async_trait]
impl EventHandler for EndpointDisabled {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let platform = &self.platform;
        let disabled: Disabled = serde_json::from_value(event.payload.clone())
            .map_err(|e| HandlerError::failed("malformed endpoint event", e))?;
        let studio = crate::get(platform, &disabled.studio_id).await?;
        let owners: Vec<_> = crate::team::memberships(platform, &studio.id)
            .await?
            .into_iter()
            .filter(|m| m.role == Role::Owner)
            .map(|m| m.user_id)
            .collect();
        for owner in atelier_identity::profiles(platform, &owners).await? {
            let notice = Notice::new(Topic::WebhookEndpointDisabled, atelier_identity::recipient(&owner))
                .in_studio(crate::notice_context(&studio))
                .with("url", Var::Text(disabled.url.clone()))
                .with("failing_since", Var::Instant(disabled.failing_since));
            delivery::dispatch(platform, &event.id, event.occurred_at, &notice).await?;
        }
        Ok(())
    }
}
