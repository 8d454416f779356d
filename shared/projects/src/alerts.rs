//! A project whose crew costs and expenses went beyond its budget: one `project.over_budget`
//! event from the change that crossed it, told to the studio's owners.

use std::sync::Arc;

use async_trait::async_trait;
use atelier_domain::identity::Role;
use atelier_domain::ids::{ProjectId, StudioId};
use atelier_domain::money::Currency;
use atelier_notifications::{Notice, Topic, Var, delivery};
use atelier_platform::Platform;
use atelier_platform::events::Event;
use atelier_platform::outbox::{self, OutboxEntry};
use atelier_platform::store::{StoreError, WriteOp};
use atelier_platform::worker::{EventHandler, HandlerError};
use serde::{Deserialize, Serialize};

use crate::Project;

/// A project went over its budget.
pub const OVER_BUDGET: &str = "project.over_budget";

/// The event's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverBudget {
    /// The studio.
    pub studio_id: StudioId,
    /// The project.
    pub project_id: ProjectId,
    /// Its title.
    pub title: String,
    /// Its budget.
    pub budget_minor: i64,
    /// Crew costs and expenses now.
    pub spent_minor: i64,
    /// Currency.
    pub currency: Currency,
}

/// Stages the event for `project` in the change's transaction.
pub fn stage(platform: &Platform, project: &Project) -> Result<(WriteOp, OutboxEntry), StoreError> {
    let payload = OverBudget {
        studio_id: project.studio_id.clone(),
        project_id: project.id.clone(),
        title: project.title.clone(),
        budget_minor: project.budget_minor.unwrap_or_default(),
        spent_minor: project.totals().spent_minor,
        currency: project.currency.clone(),
    };
    let event = Event {
        id: platform.ids.new_id(),
        kind: OVER_BUDGET.to_owned(),
        studio_id: Some(project.studio_id.to_string()),
        occurred_at: platform.clock.now(),
        trace: None,
        payload: serde_json::to_value(&payload).map_err(|e| StoreError::Encode(e.to_string()))?,
    };
    outbox::record(&event, &atelier_notifications::QUEUE)
}

struct OverBudgetNotice {
    platform: Platform,
}

#[async_trait]
impl EventHandler for OverBudgetNotice {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let platform = &self.platform;
        let over: OverBudget = serde_json::from_value(event.payload.clone())
            .map_err(|e| HandlerError::failed("malformed project.over_budget", e))?;
        let studio = match atelier_studios::get(platform, &over.studio_id).await {
            Ok(s) => s,
            Err(atelier_platform::AppError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let owners: Vec<_> = atelier_studios::team::memberships(platform, &studio.id)
            .await?
            .into_iter()
            .filter(|m| m.role == Role::Owner)
            .map(|m| m.user_id)
            .collect();
        for owner in atelier_identity::profiles(platform, &owners).await? {
            let notice = Notice::new(Topic::ProjectOverBudget, atelier_identity::recipient(&owner))
                .in_studio(atelier_studios::notice_context(&studio))
                .with("project", Var::Text(over.title.clone()))
                .with("budget", Var::Money { minor: over.budget_minor, currency: over.currency.clone() })
                .with("spent", Var::Money { minor: over.spent_minor, currency: over.currency.clone() });
            delivery::dispatch(platform, &event.id, event.occurred_at, &notice).await?;
        }
        Ok(())
    }
}

/// The handlers projects run on the notifications queue.
pub fn handlers(platform: &Platform) -> Vec<(&'static str, Arc<dyn EventHandler>)> {
    vec![(OVER_BUDGET, Arc::new(OverBudgetNotice { platform: platform.clone() }))]
}
