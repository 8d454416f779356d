//! The catalogue around products: categories, brands, a brand's product models, suppliers.
//! Each is a small record with a definition, created and changed (JSON merge patch, guarded by
//! its version) by managers and listed by any member.

use atelier_domain::Invalid;
use atelier_domain::ids::{BrandId, CategoryId, ProductModelId, StudioId, SupplierId};
use atelier_domain::studios::{check_required_text, check_text};
use atelier_platform::store::{Condition, Item, Key, Page, Query, SortKey, WriteOp};
use atelier_platform::{AppError, Platform};
use atelier_studios::Actor;
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::inventory_item;
use crate::tx::{Part, Tx};

/// A catalogue entry's definition: what a manager sends and may change.
pub trait Definition: Serialize + DeserializeOwned + Clone + Send + Sync {
    /// The sort-key prefix of its entries.
    const PREFIX: &'static str;
    /// Its name, for "not found" and the audit trail.
    const NAME: &'static str;
    /// Field rules; the definition as stored.
    fn validate(self) -> Result<Self, Invalid>;
    /// Entries it refers to, which must exist when it is written: (key, what).
    fn references(&self, _studio: &StudioId) -> Vec<(Key, &'static str)> {
        Vec::new()
    }
}

/// A stored catalogue entry.
pub trait Entry: Serialize + DeserializeOwned + Clone + Send + Sync {
    /// Its definition.
    type Definition: Definition;
    /// A new entry.
    fn new(id: String, definition: Self::Definition, now: Timestamp) -> Self;
    /// Its id.
    fn id(&self) -> &str;
    /// Its definition.
    fn definition(&self) -> &Self::Definition;
    /// The same entry, changed.
    fn changed(self, definition: Self::Definition, now: Timestamp) -> Self;
    /// Its version.
    fn version(&self) -> i64;
}

macro_rules! entry {
    ($(#[$doc:meta])* $name:ident, $id:ty, $definition:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        pub struct $name {
            /// Id.
            #[schema(value_type = String)]
            pub id: $id,
            /// The definition.
            #[serde(flatten)]
            pub definition: $definition,
            /// Created.
            #[schema(value_type = String, format = DateTime)]
            pub created_at: Timestamp,
            /// Last changed.
            #[schema(value_type = String, format = DateTime)]
            pub updated_at: Timestamp,
            /// Version, for `If-Match`.
            pub version: i64,
        }

        impl Entry for $name {
            type Definition = $definition;
            fn new(id: String, definition: $definition, now: Timestamp) -> Self {
                $name { id: <$id>::new(id), definition, created_at: now, updated_at: now, version: 1 }
            }
            fn id(&self) -> &str {
                self.id.as_str()
            }
            fn definition(&self) -> &$definition {
                &self.definition
            }
            fn changed(self, definition: $definition, now: Timestamp) -> Self {
                $name { definition, updated_at: now, version: self.version + 1, ..self }
            }
            fn version(&self) -> i64 {
                self.version
            }
        }
    };
}

/// A product category (hair colour, aftercare, needles).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryDefinition {
    /// Name, up to 100 characters.
    pub name: String,
}

impl Definition for CategoryDefinition {
    const PREFIX: &'static str = "CATEGORY#";
    const NAME: &'static str = "category";
    fn validate(self) -> Result<Self, Invalid> {
        Ok(CategoryDefinition { name: check_required_text(&self.name, 100, "name")? })
    }
}

/// A brand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandDefinition {
    /// Name, up to 100 characters.
    pub name: String,
}

impl Definition for BrandDefinition {
    const PREFIX: &'static str = "BRAND#";
    const NAME: &'static str = "brand";
    fn validate(self) -> Result<Self, Invalid> {
        Ok(BrandDefinition { name: check_required_text(&self.name, 100, "name")? })
    }
}

/// A brand's product model (a dye line, a cartridge series).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductModelDefinition {
    /// The brand.
    #[schema(value_type = String)]
    pub brand_id: BrandId,
    /// Name, up to 100 characters.
    pub name: String,
}

impl Definition for ProductModelDefinition {
    const PREFIX: &'static str = "MODEL#";
    const NAME: &'static str = "product model";
    fn validate(self) -> Result<Self, Invalid> {
        Ok(ProductModelDefinition { name: check_required_text(&self.name, 100, "name")?, ..self })
    }
    fn references(&self, studio: &StudioId) -> Vec<(Key, &'static str)> {
        vec![(key::<BrandDefinition>(studio, &self.brand_id), "brand")]
    }
}

/// A supplier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierDefinition {
    /// Name, up to 200 characters.
    pub name: String,
    /// Who to talk to, up to 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    /// Email, up to 254 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone, up to 40 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Tax id (CNPJ, VAT number), up to 40 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    /// Days from order to delivery, 0 to 365.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_time_days: Option<u32>,
    /// Notes, up to 1000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

fn optional_text(text: Option<String>, max: usize, field: &str, errors: &mut Invalid) -> Option<String> {
    let checked = text.map(|t| check_text(&t, max, field)).transpose();
    match checked {
        Ok(t) => t.filter(|t| !t.is_empty()),
        Err(e) => {
            errors.merge(e);
            None
        }
    }
}

impl Definition for SupplierDefinition {
    const PREFIX: &'static str = "SUPPLIER#";
    const NAME: &'static str = "supplier";
    fn validate(self) -> Result<Self, Invalid> {
        let mut errors = Invalid::default();
        let name = check_required_text(&self.name, 200, "name").map_err(|e| errors.merge(e)).ok();
        let checked = SupplierDefinition {
            name: name.unwrap_or_default(),
            contact_name: optional_text(self.contact_name, 200, "contact_name", &mut errors),
            email: optional_text(self.email, 254, "email", &mut errors),
            phone: optional_text(self.phone, 40, "phone", &mut errors),
            tax_id: optional_text(self.tax_id, 40, "tax_id", &mut errors),
            lead_time_days: self.lead_time_days,
            notes: optional_text(self.notes, 1000, "notes", &mut errors),
        };
        if checked.lead_time_days.is_some_and(|d| d > 365) {
            errors.merge(Invalid::field("lead_time_days", "must be between 0 and 365"));
        }
        if checked.email.as_deref().is_some_and(|e| !e.contains('@')) {
            errors.merge(Invalid::field("email", "must be an email address"));
        }
        errors.into_result()?;
        Ok(checked)
    }
}

entry!(
    /// A product category.
    Category, CategoryId, CategoryDefinition
);
entry!(
    /// A brand.
    Brand, BrandId, BrandDefinition
);
entry!(
    /// A brand's product model.
    ProductModel, ProductModelId, ProductModelDefinition
);
entry!(
    /// A supplier.
    Supplier, SupplierId, SupplierDefinition
);

/// The key of an entry of kind `D`.
pub fn key<D: Definition>(studio: &StudioId, id: &str) -> Key {
    inventory_item(studio, format!("{}{id}", D::PREFIX))
}

/// One entry.
pub async fn get<E: Entry>(platform: &Platform, studio: &StudioId, id: &str) -> Result<E, AppError> {
    crate::read(platform, &key::<E::Definition>(studio, id))
        .await?
        .ok_or(AppError::NotFound(E::Definition::NAME))
}

/// A page of entries, in creation order (ids are ULIDs).
pub async fn list<E: Entry>(
    platform: &Platform,
    studio: &StudioId,
    query: impl FnOnce(Query) -> Result<Query, AppError>,
    keep: impl Fn(&E) -> bool,
) -> Result<(Vec<E>, Option<atelier_platform::store::Cursor>), AppError> {
    let base = Query::partition(crate::inventory_partition(studio))
        .sort(SortKey::BeginsWith(E::Definition::PREFIX.to_owned()));
    let keep_item = |item: &Item| item.to_record::<E>().is_ok_and(|e| keep(&e));
    let Page { items, next } = platform.store.query_filtered(query(base)?, keep_item, 10).await?;
    let entries = items.iter().map(Item::to_record).collect::<Result<Vec<E>, _>>()?;
    Ok((entries, next))
}

/// Creates an entry (managers).
pub async fn create<E: Entry>(
    platform: &Platform,
    actor: Actor<'_>,
    definition: E::Definition,
) -> Result<E, AppError> {
    let definition = definition.validate()?;
    let entry = E::new(platform.ids.new_id(), definition, platform.clock.now());
    let mut tx = Tx::new();
    tx.push(
        WriteOp::create(Item::from_record(&key::<E::Definition>(actor.studio_id(), entry.id()), &entry)?),
        Part::Other,
    );
    references(&mut tx, actor.studio_id(), entry.definition());
    let what = E::Definition::NAME.replace(' ', "_");
    tx.push(
        actor.audit(
            platform,
            &format!("inventory.{what}_created"),
            &what,
            entry.id(),
            serde_json::to_value(entry.definition()).unwrap_or_default(),
        )?,
        Part::Other,
    );
    tx.commit(platform).await.map_err(|f| f.into_error())?;
    Ok(entry)
}

/// Changes an entry (JSON merge patch over its definition), guarded by its version.
pub async fn update<E: Entry>(
    platform: &Platform,
    actor: Actor<'_>,
    id: &str,
    patch: &serde_json::Value,
    expected: Option<i64>,
) -> Result<E, AppError> {
    let current: E = get(platform, actor.studio_id(), id).await?;
    atelier_studios::check_precondition(expected, current.version())?;
    let definition = atelier_studios::patched(current.definition(), patch)?.validate()?;
    let version = current.version();
    let before = serde_json::to_value(current.definition()).unwrap_or_default();
    let entry = current.changed(definition, platform.clock.now());
    let mut tx = Tx::new();
    tx.push(
        WriteOp::put(Item::from_record(&key::<E::Definition>(actor.studio_id(), id), &entry)?)
            .when(Condition::version_is(version)),
        Part::Product,
    );
    references(&mut tx, actor.studio_id(), entry.definition());
    let what = E::Definition::NAME.replace(' ', "_");
    let changes = serde_json::json!({ "from": before, "to": entry.definition() });
    tx.push(actor.audit(platform, &format!("inventory.{what}_updated"), &what, id, changes)?, Part::Other);
    match tx.commit(platform).await {
        Ok(()) => Ok(entry),
        Err(crate::tx::Failure::Condition(Part::Product)) if expected.is_some() => {
            Err(AppError::PreconditionFailed)
        }
        Err(f) => Err(f.into_error()),
    }
}

/// Adds "still exists" checks for what `definition` refers to.
fn references<D: Definition>(tx: &mut Tx, studio: &StudioId, definition: &D) {
    for (key, what) in definition.references(studio) {
        tx.push(WriteOp::check(key, Condition::Exists), Part::Reference(what));
    }
}
