//! What this capability runs on the notifications queue, registered by the app crate.

use std::sync::Arc;

use atelier_platform::Platform;
use atelier_platform::worker::EventHandler;

use crate::events::{BookingNotices, NOTICE_KINDS, SLOT_FREED};

/// The handlers this capability runs on the notifications queue, by event kind: booking events
/// become notices, a freed slot is offered to the waitlist.
pub fn handlers(platform: &Platform) -> Vec<(&'static str, Arc<dyn EventHandler>)> {
    let notices = BookingNotices::new(platform.clone());
    let mut handlers: Vec<(&'static str, Arc<dyn EventHandler>)> =
        NOTICE_KINDS.iter().map(|kind| (*kind, notices.clone() as Arc<dyn EventHandler>)).collect();
    handlers.push((SLOT_FREED, crate::waitlist::Promoter::new(platform.clone())));
    handlers
}
