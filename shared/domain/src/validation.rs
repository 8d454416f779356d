//! Field-level validation errors, collected so a client sees every problem at once.

use serde::Serialize;

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// JSON pointer-ish path of the field, e.g. `email` or `tiers[1].max_hours`.
    pub field: String,
    /// What is wrong, for humans.
    pub message: String,
}

/// A request whose fields break rules; never partially applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("invalid request: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    /// An error for one field.
    pub fn field(field: &str, message: impl Into<String>) -> Invalid {
        Invalid(vec![FieldError { field: field.to_owned(), message: message.into() }])
    }

    /// Records a problem with `field` unless `ok`.
    pub fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) -> &mut Invalid {
        if !ok {
            self.0.push(FieldError { field: field.to_owned(), message: message.into() });
        }
        self
    }

    /// Adds another error's problems to these.
    pub fn merge(&mut self, other: Invalid) {
        self.0.extend(other.0);
    }

    /// Ok if nothing was recorded.
    pub fn into_result(self) -> Result<(), Invalid> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_problem() {
        let mut errors = Invalid::default();
        errors.check(true, "a", "fine").check(false, "b", "bad").check(false, "c", "worse");
        let err = errors.into_result().expect_err("two problems");
        assert_eq!(err.0.len(), 2);
        assert_eq!(err.to_string(), "invalid request: b: bad; c: worse");
    }
}
