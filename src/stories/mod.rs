//! Story threads: a member's account of using a method (title, Markdown
//! body, outcome, where), with replies. Edits are kept as story revisions.

pub mod db;
pub mod routes;

use crate::web::field_errors::FieldError;

/// How it went. Failures are as welcome as successes: both teach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Mixed,
    Failure,
    TooEarly,
    /// Not a story but a question to the method's practitioners, asked in
    /// public: a thread like a story's, whose replies are the answers.
    Question,
}

impl Outcome {
    /// Every kind of thread, in the order tallies and filters list them.
    pub const ALL: [Outcome; 5] = [
        Outcome::Success,
        Outcome::Mixed,
        Outcome::Failure,
        Outcome::TooEarly,
        Outcome::Question,
    ];

    /// The outcomes a story can have (the story form's choices).
    pub const TOLD: [Outcome; 4] = [
        Outcome::Success,
        Outcome::Mixed,
        Outcome::Failure,
        Outcome::TooEarly,
    ];

    pub fn parse(raw: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == raw.trim())
    }

    /// As stored and used in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Mixed => "mixed",
            Outcome::Failure => "failure",
            Outcome::TooEarly => "too-early",
            Outcome::Question => "question",
        }
    }

    /// As shown to people, capitalised as the labels they are (issue 15).
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Success => "Success",
            Outcome::Mixed => "Mixed",
            Outcome::Failure => "Failure",
            Outcome::TooEarly => "Too early to tell",
            Outcome::Question => "Question",
        }
    }
}

/// The label of a stored outcome string.
pub fn outcome_label(stored: &str) -> &'static str {
    Outcome::parse(stored).map_or("Unknown", Outcome::label)
}

/// A story as typed in the form, validated.
#[derive(Debug, Clone)]
pub struct StoryText {
    pub title: String,
    pub body: String,
    pub outcome: Outcome,
    pub location: String,
}

impl StoryText {
    /// Checks the story form; `Err` holds every message for the re-shown form.
    pub fn parse(
        title: &str,
        body: &str,
        outcome: &str,
        location: &str,
    ) -> Result<StoryText, Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = crate::markup::text::one_line("The title", title, 150)
            .map_err(|e| errors.push(FieldError::new("story-title", e)))
            .unwrap_or_default();
        if title.is_empty() && errors.is_empty() {
            errors.push(FieldError::new(
                "story-title",
                "Please give your story a title.",
            ));
        }
        let body = crate::pages::normalise_body(body);
        if body.trim().is_empty() {
            errors.push(FieldError::new(
                "story-body",
                "Please tell the story: the text is empty.",
            ));
        } else if body.len() > 64 * 1024 {
            errors.push(FieldError::new(
                "story-body",
                "A story can be at most 64 KiB of text.",
            ));
        }
        let outcome = Outcome::parse(outcome);
        if outcome.is_none() {
            errors.push(FieldError::new(
                "story-outcome-success",
                "Please choose how it went: success, mixed, failure or too early to tell.",
            ));
        }
        let location = crate::markup::text::one_line("Where", location, 120)
            .map_err(|e| errors.push(FieldError::new("story-location", e)))
            .unwrap_or_default();
        match outcome {
            Some(outcome) if errors.is_empty() => Ok(StoryText {
                title,
                body,
                outcome,
                location,
            }),
            _ => Err(errors),
        }
    }
}

impl StoryText {
    /// Checks the public question form: a title and a text, as a story's,
    /// with the fields' own ids for the messages.
    pub fn parse_question(title: &str, body: &str) -> Result<StoryText, Vec<FieldError>> {
        StoryText::parse(title, body, Outcome::Question.as_str(), "").map_err(|errors| {
            errors
                .into_iter()
                .map(|e| match e.field {
                    "story-title" if title.trim().is_empty() => {
                        FieldError::new("question-title", "Please write your question in a line.")
                    }
                    "story-title" => FieldError::new("question-title", e.message),
                    "story-body" if body.trim().is_empty() => FieldError::new(
                        "question-body",
                        "Please say more: what you tried, what you want to know.",
                    ),
                    _ => FieldError::new("question-body", e.message),
                })
                .collect()
        })
    }
}

/// A reply's text, validated.
pub fn parse_reply(body: &str) -> Result<String, String> {
    let body = crate::pages::normalise_body(body);
    if body.trim().is_empty() {
        return Err("The reply is empty.".to_owned());
    }
    if body.len() > 32 * 1024 {
        return Err("A reply can be at most 32 KiB of text.".to_owned());
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_parse_from_their_stored_names() {
        assert_eq!(Outcome::parse("too-early"), Some(Outcome::TooEarly));
        assert_eq!(Outcome::parse("great"), None);
        assert_eq!(Outcome::TooEarly.label(), "Too early to tell");
        assert_eq!(Outcome::parse("question"), Some(Outcome::Question));
        assert!(!Outcome::TOLD.contains(&Outcome::Question));
    }

    #[test]
    fn an_empty_story_or_unknown_outcome_is_refused() {
        let errors = StoryText::parse("", "  ", "great", "").unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(StoryText::parse("It worked", "We did it.", "success", "Kenya").is_ok());
    }

    #[test]
    fn an_empty_reply_is_refused() {
        assert!(parse_reply(" \n ").is_err());
        assert_eq!(parse_reply("Thanks!").unwrap(), "Thanks!\n");
    }
}
