//! Creating and changing projects. Every change reads the project, applies itself to a copy,
//! and writes it under the version read together with everything that follows from it: the
//! client's and crew's pointers, the studio's counters, the over-budget event, the audit event.
//! Without `If-Match`, a change that lost a race is applied again to what won (two expenses
//! added at once both land); with it, the loser gets 412.

use atelier_domain::Invalid;
use atelier_domain::identity::Role;
use atelier_domain::ids::{
    BookingId, ClientId, ExpenseId, ProjectId, ProjectItemId, ServiceId, StudioId, SupplierId, UserId,
};
use atelier_domain::money::{Currency, FULL_BPS, check_amount};
use atelier_domain::projects::{CrewFee, ProjectStatus, line_total};
use atelier_domain::studios::{check_required_text, check_text};
use atelier_platform::error::CHANGED_MEANWHILE;
use atelier_platform::store::{Condition, Item, WriteOp};
use atelier_platform::{AppError, Platform};
use atelier_studios::Actor;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::conflicts::{PROJECT_FINISHED, PROJECT_FULL, PROJECT_TRANSITION, UNKNOWN_PROJECT_REFERENCE};
use crate::{CrewMember, Expense, Project, ProjectItem, Seat, client_pointer, crew_pointer, seat};

/// Most line items of a project.
pub const MAX_ITEMS: usize = 50;
/// Most crew members.
pub const MAX_CREW: usize = 20;
/// Most expenses.
pub const MAX_EXPENSES: usize = 100;
/// Most bookings one line covers.
pub const MAX_BOOKINGS_PER_LINE: usize = 10;
/// Most units on a line, and minutes on an hourly fee (a year of full days).
pub const MAX_QUANTITY: i64 = 1_000_000;

/// What a transaction's write stands for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Part {
    /// The project, under the version read.
    Project,
    /// A record the change refers to must exist.
    Reference(&'static str),
    /// A booking's claim by a project line.
    BookingLinked,
    /// Anything whose condition cannot fail in practice.
    #[default]
    Other,
}

impl atelier_platform::tx::Label for Part {
    fn conflict(&self) -> AppError {
        match self {
            Part::Reference(what) => {
                AppError::Unprocessable(UNKNOWN_PROJECT_REFERENCE, format!("the studio has no such {what}"))
            }
            Part::BookingLinked => AppError::Conflict(
                crate::conflicts::BOOKING_LINKED,
                "a booking is already a line of a project: its revenue is counted once".into(),
            ),
            Part::Project | Part::Other => {
                AppError::Conflict(CHANGED_MEANWHILE, "the project changed meanwhile; read it again".into())
            }
        }
    }
}

type Tx = atelier_platform::tx::Tx<Part>;
type Failure = atelier_platform::tx::Failure<Part>;

/// A project's header, as a manager creates or changes it (JSON merge patch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectDefinition {
    /// Title, up to 200 characters.
    pub title: String,
    /// The studio's client it is for.
    #[schema(value_type = String)]
    pub client_id: ClientId,
    /// Up to 2000 characters.
    #[serde(default)]
    pub description: String,
    /// Start, `YYYY-MM-DD` in the studio's calendar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date)]
    pub start_date: Option<Date>,
    /// Deadline, `YYYY-MM-DD`, not before the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date)]
    pub deadline: Option<Date>,
    /// Up to 10 tags of up to 40 characters.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Budget for crew costs and expenses, minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_minor: Option<i64>,
}

impl ProjectDefinition {
    fn validate(self) -> Result<ProjectDefinition, Invalid> {
        let mut errors = Invalid::default();
        let title =
            check_required_text(&self.title, 200, "title").map_err(|e| errors.merge(e)).unwrap_or_default();
        let description = check_text(&self.description, 2000, "description")
            .map_err(|e| errors.merge(e))
            .unwrap_or_default();
        for (field, date) in [("start_date", self.start_date), ("deadline", self.deadline)] {
            if let Some(date) = date {
                atelier_domain::time::check_date(&mut errors, field, date);
            }
        }
        if let (Some(start), Some(deadline)) = (self.start_date, self.deadline) {
            errors.check(deadline >= start, "deadline", "must not be before start_date");
        }
        errors.check(self.tags.len() <= 10, "tags", "at most 10");
        let mut tags: Vec<String> = Vec::new();
        for (i, tag) in self.tags.iter().enumerate() {
            match check_required_text(tag, 40, &format!("tags[{i}]")) {
                Ok(tag) if !tags.contains(&tag.to_lowercase()) => tags.push(tag.to_lowercase()),
                Ok(_) => {}
                Err(e) => errors.merge(e),
            }
        }
        if let Some(budget) = self.budget_minor
            && let Err(e) = check_amount(budget, "budget_minor")
        {
            errors.merge(e);
        }
        errors.into_result()?;
        Ok(ProjectDefinition { title, description, tags, ..self })
    }
}

fn definition_of(p: &Project) -> ProjectDefinition {
    ProjectDefinition {
        title: p.title.clone(),
        client_id: p.client_id.clone(),
        description: p.description.clone(),
        start_date: p.start_date,
        deadline: p.deadline,
        tags: p.tags.clone(),
        budget_minor: p.budget_minor,
    }
}

/// The client's name, or 422 when the studio has no such client.
async fn client_name(platform: &Platform, studio: &StudioId, client: &ClientId) -> Result<String, AppError> {
    match atelier_studios::clients::get(platform, studio, client).await {
        Ok(c) => Ok(c.details.name),
        Err(AppError::NotFound(_)) => {
            Err(AppError::Unprocessable(UNKNOWN_PROJECT_REFERENCE, "the studio has no such client".into()))
        }
        Err(e) => Err(e),
    }
}

/// Creates a project in `draft` (managers).
pub async fn create(
    platform: &Platform,
    actor: Actor<'_>,
    definition: ProjectDefinition,
) -> Result<Project, AppError> {
    actor.access.require(Role::Manager)?;
    let definition = definition.validate()?;
    let studio = atelier_studios::get(platform, actor.studio_id()).await?;
    let client_name = client_name(platform, &studio.id, &definition.client_id).await?;
    let now = platform.clock.now();
    let project = Project {
        id: ProjectId::new(platform.ids.new_id()),
        studio_id: studio.id.clone(),
        title: definition.title,
        client_id: definition.client_id,
        client_name,
        description: definition.description,
        status: ProjectStatus::Draft,
        start_date: definition.start_date,
        deadline: definition.deadline,
        tags: definition.tags,
        budget_minor: definition.budget_minor,
        currency: Currency::parse(&studio.profile.currency, "currency")?,
        tax_rate_bps: studio.profile.tax_rate_bps.min(FULL_BPS),
        items: Vec::new(),
        crew: Vec::new(),
        expenses: Vec::new(),
        earned_month: None,
        created_by: actor.user_id().clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = Tx::new();
    tx.push(WriteOp::create(project.to_item()?), Part::Other);
    tx.push(
        WriteOp::check(
            atelier_studios::clients::client_key(&studio.id, &project.client_id),
            Condition::Exists,
        ),
        Part::Reference("client"),
    );
    follow_ups(platform, &mut tx, None, &project, &studio.profile.time_zone)?;
    tx.push(
        actor.audit(
            platform,
            "projects.created",
            "project",
            &project.id,
            serde_json::to_value(definition_of(&project)).unwrap_or_default(),
        )?,
        Part::Other,
    );
    tx.commit(platform).await.map_err(Failure::into_error)?;
    Ok(project)
}

/// Everything that follows from a project going from `before` to `after`: pointers, counters,
/// the over-budget event.
fn follow_ups(
    platform: &Platform,
    tx: &mut Tx,
    before: Option<&Project>,
    after: &Project,
    zone: &str,
) -> Result<(), AppError> {
    let studio = &after.studio_id;
    if before.is_none_or(|b| b.client_id != after.client_id) {
        if let Some(b) = before {
            tx.push(WriteOp::delete(client_pointer(studio, &b.client_id, &b.id)), Part::Other);
        }
        tx.push(WriteOp::put(Item::new(&client_pointer(studio, &after.client_id, &after.id))), Part::Other);
    }
    let had = |p: Option<&Project>, u: &UserId| p.is_some_and(|p| p.has_crew(u));
    for member in &after.crew {
        if !had(before, &member.user_id) {
            tx.push(WriteOp::put(Item::new(&crew_pointer(studio, &member.user_id, &after.id))), Part::Other);
        }
    }
    for member in before.map(|b| b.crew.as_slice()).unwrap_or_default() {
        if !after.has_crew(&member.user_id) {
            tx.push(WriteOp::delete(crew_pointer(studio, &member.user_id, &after.id)), Part::Other);
        }
    }
    tx.extend(crate::dashboard::counter_writes(before, after, zone), Part::Other);
    if !before.is_some_and(Project::over_budget) && after.over_budget() {
        tx.event(crate::alerts::stage(platform, after)?);
    }
    Ok(())
}

/// A change as asked for: what it is for the audit trail, the version it is based on (`If-Match`)
/// and the conditions its write needs (a referenced record still exists, a booking's claim).
struct Edit {
    action: &'static str,
    details: serde_json::Value,
    expected: Option<i64>,
    checks: Vec<(WriteOp, Part)>,
}

/// Applies `apply` to the project and writes it with what follows, under the version read.
async fn change(
    platform: &Platform,
    actor: &Actor<'_>,
    project_id: &ProjectId,
    edit: Edit,
    apply: impl Fn(&mut Project, Seat) -> Result<(), AppError>,
) -> Result<Project, AppError> {
    let Edit { action, details, expected, checks } = edit;
    let zone = atelier_studios::get(platform, actor.studio_id()).await?.profile.time_zone;
    for attempt in 0..ATTEMPTS {
        let current = crate::visible(platform, actor.access, project_id).await?;
        atelier_studios::check_precondition(expected, current.version)?;
        let seat = seat(actor.access);
        let mut next = current.clone();
        apply(&mut next, seat)?;
        next.version = current.version + 1;
        next.updated_at = platform.clock.now();
        let mut tx = Tx::new();
        tx.push(WriteOp::put(next.to_item()?).when(Condition::version_is(current.version)), Part::Project);
        for (op, part) in &checks {
            tx.push(op.clone(), part.clone());
        }
        follow_ups(platform, &mut tx, Some(&current), &next, &zone)?;
        let changes = serde_json::json!({
            "request": details, "version": next.version, "status": next.status, "totals": next.totals()
        });
        tx.push(actor.audit(platform, action, "project", project_id, changes)?, Part::Other);
        match tx.commit(platform).await {
            Ok(()) => return Ok(next),
            Err(Failure::Condition(Part::Project)) if expected.is_some() => {
                return Err(AppError::PreconditionFailed);
            }
            Err(Failure::Condition(Part::Project)) => {
                // Spread out, so changes racing on one project do not collide in step.
                let spread = u64::from(atelier_platform::stable_shard(&platform.ids.new_id(), 7));
                tokio::time::sleep(std::time::Duration::from_millis((attempt.min(10) as u64) * (1 + spread)))
                    .await;
            }
            Err(f) => return Err(f.into_error()),
        }
    }
    Err(AppError::Conflict(CHANGED_MEANWHILE, "the project kept changing; try again".into()))
}

/// How many times a change without `If-Match` is applied again after losing a race.
const ATTEMPTS: usize = 20;

fn managers_only(seat: Seat) -> Result<(), AppError> {
    match seat {
        Seat::Manager => Ok(()),
        Seat::Crew => Err(AppError::Forbidden(
            atelier_platform::error::ROLE_REQUIRED,
            "crew members may change the status and their own hours; owners and managers the rest".into(),
        )),
    }
}

fn open(project: &Project) -> Result<(), AppError> {
    if matches!(project.status, ProjectStatus::Closed | ProjectStatus::Cancelled) {
        return Err(AppError::Conflict(
            PROJECT_FINISHED,
            format!("the project is {}", project.status.as_str()),
        ));
    }
    Ok(())
}

/// Changes the header (managers; JSON merge patch over the definition).
pub async fn update(
    platform: &Platform,
    actor: Actor<'_>,
    project_id: &ProjectId,
    patch: &serde_json::Value,
    expected: Option<i64>,
) -> Result<Project, AppError> {
    let current = crate::visible(platform, actor.access, project_id).await?;
    managers_only(seat(actor.access))?;
    // Checked now for a quick answer; applied again inside the change to what is there then,
    // so a concurrent change of another field is kept.
    let definition = atelier_studios::patched(&definition_of(&current), patch)?.validate()?;
    let mut checks = Vec::new();
    let mut name = None;
    if let Some(client) = patch.get("client_id").and_then(|v| v.as_str()) {
        let client = ClientId::new(client);
        name = Some(client_name(platform, actor.studio_id(), &client).await?);
        checks.push((
            WriteOp::check(
                atelier_studios::clients::client_key(actor.studio_id(), &client),
                Condition::Exists,
            ),
            Part::Reference("client"),
        ));
    }
    drop(definition);
    change(
        platform,
        &actor,
        project_id,
        Edit { action: "projects.updated", details: patch.clone(), expected, checks },
        |p, _| {
            open(p)?;
            let d = atelier_studios::patched(&definition_of(p), patch)?.validate()?;
            if d.client_id != p.client_id {
                if p.items.iter().any(|i| !i.booking_ids.is_empty()) {
                    return Err(Invalid::field(
                        "client_id",
                        "lines are linked to the client's bookings: remove them first",
                    )
                    .into());
                }
                p.client_name = name.clone().unwrap_or_default();
            }
            (p.title, p.client_id, p.description, p.start_date, p.deadline, p.tags, p.budget_minor) =
                (d.title, d.client_id, d.description, d.start_date, d.deadline, d.tags, d.budget_minor);
            Ok(())
        },
    )
    .await
}

/// Moves the project to `status` (managers and its crew); the move must make sense.
pub async fn set_status(
    platform: &Platform,
    actor: Actor<'_>,
    project_id: &ProjectId,
    status: ProjectStatus,
    expected: Option<i64>,
) -> Result<Project, AppError> {
    let zone = atelier_studios::get(platform, actor.studio_id()).await?.profile.time_zone;
    let month = crate::dashboard::month_of(platform.clock.now(), &zone);
    change(
        platform,
        &actor,
        project_id,
        Edit {
            action: "projects.status_changed",
            details: serde_json::json!({ "status": status }),
            expected,
            checks: Vec::new(),
        },
        |p, _| {
            if !p.status.may_become(status) {
                return Err(AppError::Conflict(
                    PROJECT_TRANSITION,
                    format!("a project {} cannot become {}", p.status.as_str(), status.as_str()),
                ));
            }
            p.status = status;
            if status == ProjectStatus::Delivered && p.earned_month.is_none() {
                p.earned_month = Some(month.clone());
            }
            Ok(())
        },
    )
    .await
}

/// A line item as asked for: a service (its name and price by default) or free text.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    /// A studio service.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub service_id: Option<ServiceId>,
    /// What it is (default: the service's name), up to 200 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// 1 to 1 000 000.
    pub quantity: i64,
    /// Price of one, minor units (default: the service's price).
    #[serde(default)]
    pub unit_price_minor: Option<i64>,
    /// Discount, basis points of the line (0 to 10 000).
    #[serde(default)]
    pub discount_bps: u32,
    /// Bookings of the project's client it covers (the sessions of a multi-session piece).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub booking_ids: Vec<BookingId>,
}

/// Adds a line item (managers).
pub async fn add_item(
    platform: &Platform,
    actor: Actor<'_>,
    project_id: &ProjectId,
    request: &ItemRequest,
    expected: Option<i64>,
) -> Result<Project, AppError> {
    let current = crate::visible(platform, actor.access, project_id).await?;
    managers_only(seat(actor.access))?;
    let mut errors = Invalid::default();
    errors.check(
        (1..=MAX_QUANTITY).contains(&request.quantity),
        "quantity",
        format!("must be between 1 and {MAX_QUANTITY}"),
    );
    errors.check(request.discount_bps <= FULL_BPS, "discount_bps", "must be between 0 and 10000");
    if let Some(price) = request.unit_price_minor
        && let Err(e) = check_amount(price, "unit_price_minor")
    {
        errors.merge(e);
    }
    errors.check(
        request.booking_ids.len() <= MAX_BOOKINGS_PER_LINE,
        "booking_ids",
        format!("at most {MAX_BOOKINGS_PER_LINE}"),
    );
    errors.into_result()?;
    let mut checks = Vec::new();
    let (mut description, mut price) = (request.description.clone(), request.unit_price_minor);
    if let Some(service_id) = &request.service_id {
        let service = match atelier_studios::catalog::service(platform, actor.studio_id(), service_id).await {
            Ok(s) => s,
            Err(AppError::NotFound(_)) => {
                return Err(AppError::Unprocessable(
                    UNKNOWN_PROJECT_REFERENCE,
                    "the studio has no such service".into(),
                ));
            }
            Err(e) => return Err(e),
        };
        description.get_or_insert(service.definition.name.clone());
        price.get_or_insert(service.definition.price_minor);
        checks.push((
            WriteOp::check(
                atelier_studios::catalog::service_key(actor.studio_id(), service_id),
                Condition::Exists,
            ),
            Part::Reference("service"),
        ));
    }
    for (n, booking_id) in request.booking_ids.iter().enumerate() {
        if request.booking_ids[..n].contains(booking_id) {
            return Err(Invalid::field(&format!("booking_ids[{n}]"), "lists a booking twice").into());
        }
        match atelier_bookings::load(platform, actor.studio_id(), booking_id).await {
            Ok(b) if b.client_id == current.client_id => {
                // One line of one project per booking, claimed in the change's transaction.
                checks.push((
                    WriteOp::create(
                        Item::new(&crate::booking_claim(actor.studio_id(), booking_id))
                            .with("project_id", project_id.to_string()),
                    ),
                    Part::BookingLinked,
                ));
            }
            Ok(_) | Err(AppError::NotFound(_)) => {
                return Err(AppError::Unprocessable(
                    UNKNOWN_PROJECT_REFERENCE,
                    "the project's client has no such booking".into(),
                ));
            }
            Err(e) => return Err(e),
        }
    }
    let description = check_required_text(description.as_deref().unwrap_or_default(), 200, "description")?;
    let Some(price) = price else {
        return Err(Invalid::field("unit_price_minor", "is required for a line without a service").into());
    };
    let item = ProjectItem {
        id: ProjectItemId::new(platform.ids.new_id()),
        service_id: request.service_id.clone(),
        description,
        quantity: request.quantity,
        unit_price_minor: price,
        discount_bps: request.discount_bps,
        booking_ids: request.booking_ids.clone(),
        total_minor: line_total(request.quantity, price, request.discount_bps),
    };
    change(
        platform,
        &actor,
        project_id,
        Edit {
            action: "projects.item_added",
            details: serde_json::to_value(request).unwrap_or_default(),
            expected,
            checks,
        },
        |p, _| {
            open(p)?;
            if p.items.len() >= MAX_ITEMS {
                return Err(AppError::Conflict(
                    PROJECT_FULL,
                    format!("a project holds at most {MAX_ITEMS} items"),
                ));
            }
            p.items.push(item.clone());
            Ok(())
        },
    )
    .await
}

/// Removes a line item (managers).
pub async fn remove_item(
    platform: &Platform,
    actor: Actor<'_>,
    project_id: &ProjectId,
    item_id: &ProjectItemId,
    expected: Option<i64>,
) -> Result<Project, AppError> {
    // A line never changes once added: its bookings' claims can be found before the change.
    let current = crate::visible(platform, actor.access, project_id).await?;
    let claims = current
        .items
        .iter()
        .filter(|i| i.id == *item_id)
        .flat_map(|i| i.booking_ids.iter())
        .map(|b| (WriteOp::delete(crate::booking_claim(actor.studio_id(), b)), Part::Other))
        .collect();
    change(
        platform,
        &actor,
        project_id,
        Edit {
            action: "projects.item_removed",
            details: serde_json::json!({ "item_id": item_id }),
            expected,
            checks: claims,
        },
        |p, seat| {
            managers_only(seat)?;
            open(p)?;
            let before = p.items.len();
            p.items.retain(|i| i.id != *item_id);
            if p.items.len() == before { Err(AppError::NotFound("item")) } else { Ok(()) }
        },
    )
    .await
}

/// A crew assignment as asked for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrewRequest {
    /// Their role on the project, up to 60 characters.
    pub role: String,
    /// Their fee: `{"kind": "fixed", "amount_minor"}` or `{"kind": "hourly", "rate_minor", "minutes"}`.
    pub fee: CrewFee,
}

fn check_fee(fee: &CrewFee, errors: &mut Invalid) {
    match *fee {
        CrewFee::Fixed { amount_minor } => {
            if let Err(e) = check_amount(amount_minor, "fee.amount_minor") {
                errors.merge(e);
            }
        }
        CrewFee::Hourly { rate_minor, minutes } => {
            if let Err(e) = check_amount(rate_minor, "fee.rate_minor") {
                errors.merge(e);
            }
            errors.check(
                (0..=MAX_QUANTITY).contains(&minutes),
                "fee.minutes",
                format!("must be between 0 and {MAX_QUANTITY}"),
            );
        }
    }
}

/// Assigns a professional (or changes their role and fee) (managers).
pub async fn set_crew(
    platform: &Platform,
    actor: Actor<'_>,
    project_id: &ProjectId,
    user: &UserId,
    request: &CrewRequest,
    expected: Option<i64>,
) -> Result<Project, AppError> {
    crate::visible(platform, actor.access, project_id).await?;
    managers_only(seat(actor.access))?;
    let mut errors = Invalid::default();
    let role =
        check_required_text(&request.role, 60, "role").map_err(|e| errors.merge(e)).unwrap_or_default();
    check_fee(&request.fee, &mut errors);
    errors.into_result()?;
    let checks = atelier_studios::team::check_professionals(
        platform,
        actor.studio_id(),
        std::slice::from_ref(user),
        "user_id",
    )
    .await
    .map_err(|e| match e {
        AppError::Invalid(_) => AppError::Unprocessable(
            UNKNOWN_PROJECT_REFERENCE,
            "not an active professional of the studio".into(),
        ),
        other => other,
    })?;
    let name =
        atelier_studios::team::professional(platform, actor.studio_id(), user).await?.profile.display_name;
    let checks = checks.into_iter().map(|op| (op, Part::Reference("professional"))).collect();
    change(
        platform,
        &actor,
        project_id,
        Edit {
            action: "projects.crew_set",
            details: serde_json::json!({ "user_id": user, "request": request }),
            expected,
            checks,
        },
        |p, _| {
            open(p)?;
            let member = CrewMember {
                user_id: user.clone(),
                name: name.clone(),
                role: role.clone(),
                fee: Some(request.fee),
                cost_minor: Some(request.fee.cost_minor()),
            };
            let full = p.crew.len() >= MAX_CREW;
            match p.crew.iter_mut().find(|c| c.user_id == *user) {
                Some(existing) => *existing = member,
                None if full => {
                    return Err(AppError::Conflict(
                        PROJECT_FULL,
                        format!("a project holds at most {MAX_CREW} crew members"),
                    ));
                }
                None => p.crew.push(member),
            }
            Ok(())
        },
    )
    .await
}

/// Takes a professional off the crew (managers).
pub async fn remove_crew(
    platform: &Platform,
    actor: Actor<'_>,
    project_id: &ProjectId,
    user: &UserId,
    expected: Option<i64>,
) -> Result<Project, AppError> {
    change(
        platform,
        &actor,
        project_id,
        Edit {
            action: "projects.crew_removed",
            details: serde_json::json!({ "user_id": user }),
            expected,
            checks: Vec::new(),
        },
        |p, seat| {
            managers_only(seat)?;
            open(p)?;
            let before = p.crew.len();
            p.crew.retain(|c| c.user_id != *user);
            if p.crew.len() == before { Err(AppError::NotFound("crew member")) } else { Ok(()) }
        },
    )
    .await
}

/// Sets the minutes worked on an hourly fee (the crew member themselves, or managers).
pub async fn set_minutes(
    platform: &Platform,
    actor: Actor<'_>,
    project_id: &ProjectId,
    user: &UserId,
    minutes: i64,
    expected: Option<i64>,
) -> Result<Project, AppError> {
    if !(0..=MAX_QUANTITY).contains(&minutes) {
        return Err(Invalid::field("minutes", format!("must be between 0 and {MAX_QUANTITY}")).into());
    }
    let caller = actor.user_id().clone();
    change(
        platform,
        &actor,
        project_id,
        Edit {
            action: "projects.hours_set",
            details: serde_json::json!({ "user_id": user, "minutes": minutes }),
            expected,
            checks: Vec::new(),
        },
        |p, seat| {
            if seat == Seat::Crew && caller != *user {
                managers_only(seat)?;
            }
            open(p)?;
            let member =
                p.crew.iter_mut().find(|c| c.user_id == *user).ok_or(AppError::NotFound("crew member"))?;
            match member.fee {
                Some(CrewFee::Hourly { rate_minor, .. }) => {
                    let fee = CrewFee::Hourly { rate_minor, minutes };
                    member.fee = Some(fee);
                    member.cost_minor = Some(fee.cost_minor());
                    Ok(())
                }
                _ => Err(Invalid::field("minutes", "only an hourly fee counts minutes").into()),
            }
        },
    )
    .await
}

/// An expense as asked for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpenseRequest {
    /// Up to 60 characters.
    pub category: String,
    /// Up to 200 characters.
    pub description: String,
    /// Minor units.
    pub amount_minor: i64,
    /// When, `YYYY-MM-DD`.
    #[schema(value_type = String, format = Date)]
    pub date: Date,
    /// An inventory supplier of the studio.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub supplier_id: Option<SupplierId>,
    /// A receipt or invoice number, up to 100 characters.
    #[serde(default)]
    pub receipt: Option<String>,
}

/// Adds an expense (managers).
pub async fn add_expense(
    platform: &Platform,
    actor: Actor<'_>,
    project_id: &ProjectId,
    request: &ExpenseRequest,
    expected: Option<i64>,
) -> Result<Project, AppError> {
    crate::visible(platform, actor.access, project_id).await?;
    managers_only(seat(actor.access))?;
    let mut errors = Invalid::default();
    let category = check_required_text(&request.category, 60, "category")
        .map_err(|e| errors.merge(e))
        .unwrap_or_default();
    let description = check_required_text(&request.description, 200, "description")
        .map_err(|e| errors.merge(e))
        .unwrap_or_default();
    if let Err(e) = check_amount(request.amount_minor, "amount_minor") {
        errors.merge(e);
    }
    atelier_domain::time::check_date(&mut errors, "date", request.date);
    let receipt = request
        .receipt
        .as_deref()
        .map(|r| check_text(r, 100, "receipt"))
        .transpose()
        .map_err(|e| errors.merge(e))
        .ok()
        .flatten()
        .filter(|r| !r.is_empty());
    errors.into_result()?;
    let mut checks = Vec::new();
    if let Some(supplier) = &request.supplier_id {
        let key = atelier_inventory::catalogue::key::<atelier_inventory::catalogue::SupplierDefinition>(
            actor.studio_id(),
            supplier,
        );
        if platform.store.get(&key).await?.is_none() {
            return Err(AppError::Unprocessable(
                UNKNOWN_PROJECT_REFERENCE,
                "the studio has no such supplier".into(),
            ));
        }
        checks.push((WriteOp::check(key, Condition::Exists), Part::Reference("supplier")));
    }
    let expense = Expense {
        id: ExpenseId::new(platform.ids.new_id()),
        category,
        description,
        amount_minor: request.amount_minor,
        date: request.date,
        supplier_id: request.supplier_id.clone(),
        receipt,
        recorded_by: actor.user_id().clone(),
    };
    change(
        platform,
        &actor,
        project_id,
        Edit {
            action: "projects.expense_added",
            details: serde_json::to_value(request).unwrap_or_default(),
            expected,
            checks,
        },
        |p, _| {
            open(p)?;
            if p.expenses.len() >= MAX_EXPENSES {
                return Err(AppError::Conflict(
                    PROJECT_FULL,
                    format!("a project holds at most {MAX_EXPENSES} expenses"),
                ));
            }
            p.expenses.push(expense.clone());
            Ok(())
        },
    )
    .await
}

/// Removes an expense (managers).
pub async fn remove_expense(
    platform: &Platform,
    actor: Actor<'_>,
    project_id: &ProjectId,
    expense_id: &ExpenseId,
    expected: Option<i64>,
) -> Result<Project, AppError> {
    change(
        platform,
        &actor,
        project_id,
        Edit {
            action: "projects.expense_removed",
            details: serde_json::json!({ "expense_id": expense_id }),
            expected,
            checks: Vec::new(),
        },
        |p, seat| {
            managers_only(seat)?;
            open(p)?;
            let before = p.expenses.len();
            p.expenses.retain(|e| e.id != *expense_id);
            if p.expenses.len() == before { Err(AppError::NotFound("expense")) } else { Ok(()) }
        },
    )
    .await
}
