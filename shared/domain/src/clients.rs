//! A studio's clients (CRM): who they are, how to reach them, and the keys they are found by.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;
use crate::catalog::check_kind;
use crate::identity::{Email, check_name, check_phone};
use crate::studios::check_text;

/// What a studio keeps about a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientDetails {
    /// Name.
    pub name: String,
    /// International phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Staff notes (allergies, preferences...).
    #[serde(default)]
    pub notes: String,
    /// Tags (`vip`, `regular`...).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Agreed to marketing messages.
    #[serde(default)]
    pub marketing_consent: bool,
}

impl ClientDetails {
    /// Checks and normalises.
    pub fn validate(&self) -> Result<ClientDetails, Invalid> {
        let mut errors = Invalid::default();
        let mut keep = |r: Result<String, Invalid>| r.map_err(|e| errors.0.extend(e.0)).ok();
        let name = keep(check_name(&self.name, "name")).unwrap_or_default();
        let phone = self
            .phone
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .and_then(|p| keep(check_phone(p, "phone")));
        let email = self
            .email
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .and_then(|e| keep(Email::parse(e, "email").map(|e| e.as_str().to_owned())));
        let notes = keep(check_text(&self.notes, 5000, "notes")).unwrap_or_default();
        let mut tags: Vec<String> = self
            .tags
            .iter()
            .enumerate()
            .filter_map(|(i, t)| keep(check_kind(t, &format!("tags[{i}]"))))
            .collect();
        tags.sort();
        tags.dedup();
        errors.check(tags.len() <= 20, "tags", "at most 20");
        errors.into_result()?;
        Ok(ClientDetails { name, phone, email, notes, tags, marketing_consent: self.marketing_consent })
    }
}

/// The form a name is searched by: lowercase, accents removed, spaces collapsed.
pub fn search_key(text: &str) -> String {
    let folded: String = text
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            other => other,
        })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The digits of a phone number, which is how phones are searched.
pub fn phone_digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_normalised() {
        let details = ClientDetails {
            name: " João  Conceição ".into(),
            phone: Some("+55 11 91234-5678".into()),
            email: Some("JOAO@Example.com".into()),
            notes: "Allergic to latex".into(),
            tags: vec!["VIP".into(), "vip".into(), "regular".into()],
            marketing_consent: true,
        };
        let valid = details.validate().expect("valid");
        assert_eq!(valid.email.as_deref(), Some("joao@example.com"));
        assert_eq!(valid.phone.as_deref(), Some("+5511912345678"));
        assert_eq!(valid.tags, ["regular", "vip"]);
        assert_eq!(search_key(&valid.name), "joao conceicao");
        assert_eq!(phone_digits("+55 11 91234-5678"), "5511912345678");
        let bad = ClientDetails { name: String::new(), email: Some("nope".into()), ..details };
        assert_eq!(bad.validate().expect_err("invalid").0.len(), 2);
    }
}
