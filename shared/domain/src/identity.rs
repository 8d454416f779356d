//! People and their rights: emails, passwords, profile fields, roles.

use serde::{Deserialize, Serialize};

use crate::Invalid;

/// An email address, trimmed and lowercased: the form uniqueness is decided on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parses and normalises an address; `field` names it in the error.
    pub fn parse(text: &str, field: &str) -> Result<Email, Invalid> {
        let email = text.trim().to_lowercase();
        let bad = || Invalid::field(field, "is not an email address");
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = email.split_once('@').ok_or_else(bad)?;
        let labels_ok = domain.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if local.is_empty() || local.len() > 64 || domain.contains('@') || !domain.contains('.') || !labels_ok
        {
            return Err(bad());
        }
        Ok(Email(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (hashing cost is bounded).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Passwords too common to allow, lowercased; shorter ones fail the length rule anyway.
const COMMON_PASSWORDS: &[&str] = &[
    "0123456789",
    "0987654321",
    "1111111111",
    "1234567890",
    "12345678910",
    "123456789a",
    "123456789q",
    "1234567890a",
    "1234567890q",
    "123qweasdzxc",
    "1q2w3e4r5t",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "a123456789",
    "aaaaaaaaaa",
    "abcdefghij",
    "abcd123456",
    "administrator",
    "asdfghjkl1",
    "asdfghjkl;",
    "baseball123",
    "changeme123",
    "computer123",
    "dragon1234",
    "football123",
    "iloveyou123",
    "letmein123",
    "letmeinplease",
    "michael123",
    "monkey1234",
    "passw0rd123",
    "password01",
    "password12",
    "password123",
    "password1234",
    "password!1",
    "p@ssw0rd123",
    "p@ssword123",
    "passwordpassword",
    "princess123",
    "q1w2e3r4t5",
    "qazwsxedc123",
    "qwerty12345",
    "qwerty123456",
    "qwertyuiop",
    "qwertyuiop123",
    "starwars123",
    "sunshine123",
    "superman123",
    "trustno1234",
    "welcome123",
    "welcome1234",
    "whatever123",
    "zaq12wsxcde",
    "zxcvbnm123",
    "iloveyou12",
    "football12",
    "1234567890!",
    "qwerty1234",
    "abc1234567",
];

/// Checks a new password against the rules: 10 to 128 characters, not a common password,
/// not the email or its local part, not one repeated character.
pub fn check_new_password(password: &str, email: &Email, field: &str) -> Result<(), Invalid> {
    let chars = password.chars().count();
    let lower = password.to_lowercase();
    let mut errors = Invalid::default();
    errors
        .check(
            chars >= MIN_PASSWORD_CHARS,
            field,
            format!("must have at least {MIN_PASSWORD_CHARS} characters"),
        )
        .check(
            chars <= MAX_PASSWORD_CHARS,
            field,
            format!("must have at most {MAX_PASSWORD_CHARS} characters"),
        );
    if errors.0.is_empty() {
        let local = email.as_str().split('@').next().unwrap_or_default();
        let repeated = password.chars().all(|c| password.starts_with(c));
        errors.check(!COMMON_PASSWORDS.contains(&lower.as_str()) && !repeated, field, "is too common").check(
            lower != email.as_str() && (local.len() < 4 || !lower.contains(local)),
            field,
            "must not contain your email",
        );
    }
    errors.into_result()
}

/// A person's display name: 1 to 100 characters after trimming.
pub fn check_name(name: &str, field: &str) -> Result<String, Invalid> {
    let name = name.trim();
    let chars = name.chars().count();
    if (1..=100).contains(&chars) && !name.chars().any(char::is_control) {
        Ok(name.to_owned())
    } else {
        Err(Invalid::field(field, "must be 1 to 100 characters"))
    }
}

/// A phone number in international form: `+` and 8 to 15 digits; spaces, dashes, dots and
/// parentheses are dropped.
pub fn check_phone(phone: &str, field: &str) -> Result<String, Invalid> {
    let kept: String = phone.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    let digits = kept.strip_prefix('+').unwrap_or_default();
    if (8..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
    {
        Ok(kept)
    } else {
        Err(Invalid::field(field, "must be an international number, like +351 912 345 678"))
    }
}

/// A member's role in a studio. Any signed-in user is also a client anywhere; a platform
/// admin is not a studio role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Staff, crew, artist: their own agenda and profile.
    Professional,
    /// Runs the studio day to day.
    Manager,
    /// Owns the studio: everything, including its owners.
    Owner,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 3] = [Role::Professional, Role::Manager, Role::Owner];

    /// Whether this role includes everything `needed` may do.
    pub fn includes(self, needed: Role) -> bool {
        self.rank() >= needed.rank()
    }

    fn rank(self) -> u8 {
        match self {
            Role::Professional => 1,
            Role::Manager => 2,
            Role::Owner => 3,
        }
    }

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Professional => "professional",
            Role::Manager => "manager",
            Role::Owner => "owner",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn email(s: &str) -> Email {
        Email::parse(s, "email").expect("valid email")
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(email("  Ana.Silva@Example.COM ").as_str(), "ana.silva@example.com");
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a b@example.com",
            "ana@@example.com",
            "ana@-x.com",
            "ana@x..com",
        ] {
            assert!(Email::parse(bad, "email").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn password_rules() {
        let ana = email("ana.silva@example.com");
        assert!(check_new_password("correct horse battery", &ana, "password").is_ok());
        assert!(check_new_password("short", &ana, "password").is_err());
        assert!(check_new_password(&"x".repeat(129), &ana, "password").is_err());
        assert!(check_new_password("Password123", &ana, "password").is_err(), "common, whatever the case");
        assert!(check_new_password("zzzzzzzzzzzz", &ana, "password").is_err());
        assert!(check_new_password("ana.silva@example.com", &ana, "password").is_err());
        assert!(check_new_password("my-ana.silva-pass", &ana, "password").is_err());
        let err = check_new_password("short", &ana, "new_password").expect_err("short");
        assert_eq!(err.0[0].field, "new_password");
    }

    #[test]
    fn names_and_phones() {
        assert_eq!(check_name("  Ana  ", "name").ok().as_deref(), Some("Ana"));
        assert!(check_name("   ", "name").is_err());
        assert!(check_name(&"a".repeat(101), "name").is_err());
        assert_eq!(check_phone("+351 912-345-678", "phone").ok().as_deref(), Some("+351912345678"));
        assert!(check_phone("912345678", "phone").is_err(), "needs the country code");
        assert!(check_phone("+12", "phone").is_err());
        assert!(check_phone("+351abc345678", "phone").is_err());
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Owner.includes(Role::Manager));
        assert!(Role::Manager.includes(Role::Manager));
        assert!(!Role::Professional.includes(Role::Manager));
        assert!(!Role::Manager.includes(Role::Owner));
    }

    proptest! {
        #[test]
        fn parsed_emails_are_stable(local in "[a-z0-9._%+-]{1,20}", domain in "[a-z0-9]{1,10}\\.[a-z]{2,5}") {
            let text = format!("{local}@{domain}");
            let once = Email::parse(&text, "email").expect("valid");
            let twice = Email::parse(once.as_str(), "email").expect("still valid");
            prop_assert_eq!(once, twice);
        }
    }
}
