//! The roster ("Who is using this method"): members add their own name to
//! a page, with an optional tip and where they use the method.

pub mod ask;
pub mod db;
pub mod routes;

/// A roster entry as typed, validated.
#[derive(Debug, Clone)]
pub struct EntryText {
    pub tip: String,
    pub location: String,
}

impl EntryText {
    pub fn parse(
        tip: &str,
        location: &str,
    ) -> Result<EntryText, Vec<crate::web::field_errors::FieldError>> {
        use crate::web::field_errors::FieldError;
        let mut errors = Vec::new();
        let tip = crate::markup::text::one_line("The tip", tip, 280)
            .map_err(|e| errors.push(FieldError::new("roster-tip", e)))
            .unwrap_or_default();
        let location = crate::markup::text::one_line("Where", location, 120)
            .map_err(|e| errors.push(FieldError::new("roster-location", e)))
            .unwrap_or_default();
        if errors.is_empty() {
            Ok(EntryText { tip, location })
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tips_are_one_line_and_short() {
        assert_eq!(
            EntryText::parse(" Start \n small ", "").unwrap().tip,
            "Start small"
        );
        assert!(EntryText::parse(&"x".repeat(281), "").is_err());
    }
}
