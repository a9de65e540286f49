//! A form's messages tied to the fields they are about, for an error
//! summary that links to each field (`templates/field_errors.html`).

/// One message about one field of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The `id` of the field in the form, which the summary links to.
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> FieldError {
        FieldError {
            field,
            message: message.into(),
        }
    }

    /// Just the messages, for forms that list them without links.
    pub fn messages(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.message).collect()
    }
}
