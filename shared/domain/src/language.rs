//! The languages Atelier writes to people in.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A language of notices and templates (BCP 47 tag on the wire).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Language {
    /// English.
    #[default]
    #[serde(rename = "en")]
    En,
    /// Brazilian Portuguese.
    #[serde(rename = "pt-BR")]
    PtBr,
}

impl Language {
    /// Every language, in the order templates list them.
    pub const ALL: [Language; 2] = [Language::En, Language::PtBr];

    /// The BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::PtBr => "pt-BR",
        }
    }

    /// The language of `tag` (case-insensitive).
    pub fn parse(tag: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.tag().eq_ignore_ascii_case(tag))
    }
}

#[cfg(test)]
mod tests {
    use super::Language;

    #[test]
    fn tags_round_trip() {
        for language in Language::ALL {
            assert_eq!(Language::parse(language.tag()), Some(language));
            let json = serde_json::to_string(&language).expect("json");
            assert_eq!(serde_json::from_str::<Language>(&json).expect("back"), language);
        }
        assert_eq!(Language::parse("PT-br"), Some(Language::PtBr));
        assert_eq!(Language::parse("fr"), None);
    }
}
