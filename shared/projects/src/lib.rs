//! Projects: a studio's productions beyond single appointments (a tattoo sleeve over several
//! sessions, a bridal party, a shoot) — a client, a status, dates, line items, the crew with
//! their fees, expenses, a budget, and totals computed by `atelier_domain::projects::totals`.
//!
//! A project is one item (`STUDIO#<s>#PROJECTS` / `PROJECT#<id>`) holding its lines, crew and
//! expenses, so its totals are always those of what is stored; every change is written under
//! the version read. It is listed by deadline (gsi1) and by status and deadline (gsi2), and by
//! client and by crew member through pointer items written in the same transactions. The
//! studio's dashboard reads counters those transactions keep (docs/projects.md).

pub mod alerts;
pub mod changes;
pub mod conflicts;
pub mod dashboard;
pub mod routes;

use atelier_domain::identity::Role;
use atelier_domain::ids::{
    BookingId, ClientId, ExpenseId, ProjectId, ProjectItemId, ServiceId, StudioId, SupplierId, UserId,
};
use atelier_domain::money::Currency;
use atelier_domain::projects::{CrewFee, Line, ProjectStatus, Totals, totals};
use atelier_platform::access::StudioAccess;
use atelier_platform::store::{Item, Key, StoreError, attr};
use atelier_platform::{AppError, Platform};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A line item: a studio service or free text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProjectItem {
    /// Id.
    #[schema(value_type = String)]
    pub id: ProjectItemId,
    /// The studio service it sells, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub service_id: Option<ServiceId>,
    /// What it is.
    pub description: String,
    /// How many.
    pub quantity: i64,
    /// Price of one, minor units.
    pub unit_price_minor: i64,
    /// Discount in basis points of the line.
    #[serde(default)]
    pub discount_bps: u32,
    /// The bookings (sessions) it covers: their revenue is the bookings', not counted twice in
    /// the studio's figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub booking_ids: Vec<BookingId>,
    /// The line's total, rounded once.
    pub total_minor: i64,
}

/// A professional on the project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CrewMember {
    /// The professional.
    #[schema(value_type = String)]
    pub user_id: UserId,
    /// Their name in the studio.
    pub name: String,
    /// Their role on the project (artist, assistant, make-up).
    pub role: String,
    /// Their fee (hidden from the other crew members).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<CrewFee>,
    /// What the fee costs (hidden likewise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_minor: Option<i64>,
}

/// An expense.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Expense {
    /// Id.
    #[schema(value_type = String)]
    pub id: ExpenseId,
    /// Category (materials, travel, rental).
    pub category: String,
    /// What it was.
    pub description: String,
    /// Minor units.
    pub amount_minor: i64,
    /// When it was spent.
    #[schema(value_type = String, format = Date)]
    pub date: Date,
    /// The inventory supplier it was bought from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub supplier_id: Option<SupplierId>,
    /// A receipt or invoice number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// Who recorded it.
    #[schema(value_type = String)]
    pub recorded_by: UserId,
}

/// A project as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Id.
    pub id: ProjectId,
    /// The studio.
    pub studio_id: StudioId,
    /// Title.
    pub title: String,
    /// The studio's client.
    pub client_id: ClientId,
    /// Their name when set.
    pub client_name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Where it stands.
    pub status: ProjectStatus,
    /// Start, in the studio's calendar.
    #[serde(default)]
    pub start_date: Option<Date>,
    /// Deadline, in the studio's calendar.
    #[serde(default)]
    pub deadline: Option<Date>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Budget for crew and expenses, minor units.
    #[serde(default)]
    pub budget_minor: Option<i64>,
    /// The studio's currency when it was created.
    pub currency: Currency,
    /// The studio's tax rate when it was created, basis points.
    pub tax_rate_bps: u32,
    /// Line items.
    #[serde(default)]
    pub items: Vec<ProjectItem>,
    /// Crew.
    #[serde(default)]
    pub crew: Vec<CrewMember>,
    /// Expenses.
    #[serde(default)]
    pub expenses: Vec<Expense>,
    /// The month (studio's calendar, `YYYY-MM`) its money counts in: when it was delivered.
    #[serde(default)]
    pub earned_month: Option<String>,
    /// Who created it.
    pub created_by: UserId,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Version, for `If-Match`.
    pub version: i64,
}

/// A project as a caller may see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectView {
    /// Id.
    #[schema(value_type = String)]
    pub id: ProjectId,
    /// Title.
    pub title: String,
    /// The studio's client.
    #[schema(value_type = String)]
    pub client_id: ClientId,
    /// Their name.
    pub client_name: String,
    /// Description.
    pub description: String,
    /// Where it stands.
    pub status: ProjectStatus,
    /// Start.
    #[schema(value_type = Option<String>, format = Date)]
    pub start_date: Option<Date>,
    /// Deadline.
    #[schema(value_type = Option<String>, format = Date)]
    pub deadline: Option<Date>,
    /// Tags.
    pub tags: Vec<String>,
    /// Budget for crew and expenses (owners and managers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_minor: Option<i64>,
    /// Currency.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// The tax rate its totals use.
    pub tax_rate_bps: u32,
    /// Line items.
    pub items: Vec<ProjectItem>,
    /// Crew (a crew member sees only their own fee).
    pub crew: Vec<CrewMember>,
    /// Expenses.
    pub expenses: Vec<Expense>,
    /// The money (owners and managers: crew members would read each other's fees out of it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<Totals>,
    /// Crew costs and expenses beyond the budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub over_budget: Option<bool>,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Version, for `If-Match`.
    pub version: i64,
}

/// A project in a list: the header, who is on it and (managers) the money, without its lines
/// and expenses (a page of 100 projects stays small).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectSummary {
    /// Id.
    #[schema(value_type = String)]
    pub id: ProjectId,
    /// Title.
    pub title: String,
    /// The studio's client.
    #[schema(value_type = String)]
    pub client_id: ClientId,
    /// Their name.
    pub client_name: String,
    /// Where it stands.
    pub status: ProjectStatus,
    /// Start.
    #[schema(value_type = Option<String>, format = Date)]
    pub start_date: Option<Date>,
    /// Deadline.
    #[schema(value_type = Option<String>, format = Date)]
    pub deadline: Option<Date>,
    /// Tags.
    pub tags: Vec<String>,
    /// The crew's names (their fees are on the project itself).
    pub crew: Vec<String>,
    /// Line items.
    pub item_count: usize,
    /// Expenses.
    pub expense_count: usize,
    /// The money (owners and managers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<Totals>,
    /// Beyond the budget (owners and managers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub over_budget: Option<bool>,
    /// Last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Version.
    pub version: i64,
}

/// How a caller relates to a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seat {
    /// An owner, a manager or an admin: everything.
    Manager,
    /// A crew member: their project, their fee, status and their hours.
    Crew,
}

impl Project {
    /// Its totals.
    pub fn totals(&self) -> Totals {
        totals(
            self.items.iter().map(|i| Line { total_minor: i.total_minor, booked: !i.booking_ids.is_empty() }),
            self.crew.iter().map(|c| c.fee.map_or(0, |f| f.cost_minor())),
            self.expenses.iter().map(|e| e.amount_minor),
            self.tax_rate_bps,
        )
    }

    /// Whether crew costs and expenses are beyond the budget.
    pub fn over_budget(&self) -> bool {
        self.budget_minor.is_some_and(|b| self.totals().spent_minor > b)
    }

    /// The view for a caller in `seat`.
    pub fn view(&self, seat: Seat, caller: &UserId) -> ProjectView {
        let manager = seat == Seat::Manager;
        let crew = self
            .crew
            .iter()
            .map(|c| {
                if manager || c.user_id == *caller {
                    c.clone()
                } else {
                    CrewMember { fee: None, cost_minor: None, ..c.clone() }
                }
            })
            .collect();
        ProjectView {
            id: self.id.clone(),
            title: self.title.clone(),
            client_id: self.client_id.clone(),
            client_name: self.client_name.clone(),
            description: self.description.clone(),
            status: self.status,
            start_date: self.start_date,
            deadline: self.deadline,
            tags: self.tags.clone(),
            budget_minor: self.budget_minor.filter(|_| manager),
            currency: self.currency.clone(),
            tax_rate_bps: self.tax_rate_bps,
            items: self.items.clone(),
            crew,
            expenses: self.expenses.clone(),
            totals: manager.then(|| self.totals()),
            over_budget: (manager && self.budget_minor.is_some()).then(|| self.over_budget()),
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
        }
    }

    /// The list entry for a caller in `seat`.
    pub fn summary(&self, seat: Seat) -> ProjectSummary {
        let manager = seat == Seat::Manager;
        ProjectSummary {
            id: self.id.clone(),
            title: self.title.clone(),
            client_id: self.client_id.clone(),
            client_name: self.client_name.clone(),
            status: self.status,
            start_date: self.start_date,
            deadline: self.deadline,
            tags: self.tags.clone(),
            crew: self.crew.iter().map(|c| c.name.clone()).collect(),
            item_count: self.items.len(),
            expense_count: self.expenses.len(),
            totals: manager.then(|| self.totals()),
            over_budget: (manager && self.budget_minor.is_some()).then(|| self.over_budget()),
            updated_at: self.updated_at,
            version: self.version,
        }
    }

    /// The stored item, listed by deadline (gsi1) and by status and deadline (gsi2).
    pub fn to_item(&self) -> Result<Item, StoreError> {
        let sort = format!("{}#{}", deadline_sort(self.deadline), self.id);
        Ok(Item::from_record(&project_key(&self.studio_id, &self.id), self)?
            .with(attr::GSI1PK, projects_partition(&self.studio_id))
            .with(attr::GSI1SK, sort.clone())
            .with(attr::GSI2PK, status_index(&self.studio_id, self.status))
            .with(attr::GSI2SK, sort))
    }

    /// Whether `user` is on the crew.
    pub fn has_crew(&self, user: &UserId) -> bool {
        self.crew.iter().any(|c| c.user_id == *user)
    }
}

/// The sort text of a deadline (none: after every date).
pub fn deadline_sort(deadline: Option<Date>) -> String {
    deadline.map_or_else(|| "9999-12-31".to_owned(), |d| d.to_string())
}

/// The partition of a studio's projects and their counters (and the deadline index's).
pub fn projects_partition(studio: &StudioId) -> String {
    format!("STUDIO#{studio}#PROJECTS")
}

/// The status index partition.
pub fn status_index(studio: &StudioId, status: ProjectStatus) -> String {
    format!("STUDIO#{studio}#PROJECTS#{}", status.as_str())
}

/// Key of a project.
pub fn project_key(studio: &StudioId, project: &ProjectId) -> Key {
    Key::new(projects_partition(studio), format!("PROJECT#{project}"))
}

/// Key of a project's pointer from its client.
pub fn client_pointer(studio: &StudioId, client: &ClientId, project: &ProjectId) -> Key {
    Key::new(format!("STUDIO#{studio}#PROJECTS#CLIENT#{client}"), project.to_string())
}

/// Key of a booking's claim by a project line (a booking's revenue is counted once).
pub fn booking_claim(studio: &StudioId, booking: &BookingId) -> Key {
    Key::new(projects_partition(studio), format!("BOOKED#{booking}"))
}

/// Key of a project's pointer from a crew member.
pub fn crew_pointer(studio: &StudioId, user: &UserId, project: &ProjectId) -> Key {
    Key::new(format!("STUDIO#{studio}#PROJECTS#CREW#{user}"), project.to_string())
}

/// The caller's seat in the studio's projects: managers and admins see everything, a
/// professional only the projects they are crew of.
pub fn seat(access: &StudioAccess) -> Seat {
    if access.caller.is_admin || access.role.is_some_and(|r| r.includes(Role::Manager)) {
        Seat::Manager
    } else {
        Seat::Crew
    }
}

/// A project the caller may see (another crew's project is not found).
pub async fn visible(
    platform: &Platform,
    access: &StudioAccess,
    project: &ProjectId,
) -> Result<Project, AppError> {
    let project = load(platform, &access.studio_id, project).await?;
    if seat(access) == Seat::Crew && !project.has_crew(&access.caller.user_id) {
        return Err(AppError::NotFound("project"));
    }
    Ok(project)
}

/// A project of the studio.
pub async fn load(platform: &Platform, studio: &StudioId, project: &ProjectId) -> Result<Project, AppError> {
    platform
        .store
        .get(&project_key(studio, project))
        .await?
        .map(|i| i.to_record())
        .transpose()?
        .ok_or(AppError::NotFound("project"))
}
