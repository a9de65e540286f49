//! The CCASS indicator table as data: a validated row, and the CSV format
//! (`code,name,description,group,sort[,retired]`) that `cafe indicators
//! import` loads all-or-nothing.

use super::Tag;

/// Longest indicator code (the form's `maxlength`).
pub const MAX_CODE_CHARS: usize = 40;

/// Whether `code` is ASCII letters, digits, `-`, `_` and `.`, starting with
/// a letter or digit: a code becomes a tag and a path segment
/// (`/indicators/{code}/edit`), so `../../x` or `a/b` must never be one.
pub fn valid_code(code: &str) -> bool {
    code.len() <= MAX_CODE_CHARS
        && code.starts_with(|c: char| c.is_ascii_alphanumeric())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// One valid indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorRow {
    pub code: String,
    pub name: String,
    pub description: String,
    pub group: String,
    pub sort: i64,
    pub retired: bool,
}

impl IndicatorRow {
    /// Checks the fields of one indicator; `Err` lists what is wrong.
    pub fn parse(
        code: &str,
        name: &str,
        description: &str,
        group: &str,
        sort: &str,
        retired: bool,
    ) -> Result<IndicatorRow, Vec<String>> {
        let mut errors = Vec::new();
        let code = code.trim().to_owned();
        if code.is_empty() {
            errors.push("the code is empty".to_owned());
        } else if let Err(e) = Tag::parse(&code) {
            errors.push(e);
        } else if !valid_code(&code) {
            errors.push(format!(
                "the code may hold only letters, digits, “-”, “_” and “.” (at most {MAX_CODE_CHARS}), starting with a letter or digit"
            ));
        }
        let name = crate::markup::text::one_line("The name", name, 120)
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        if name.is_empty() && errors.is_empty() {
            errors.push("the name is empty".to_owned());
        }
        let description = crate::markup::text::one_line("The description", description, 1000)
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        let group = crate::markup::text::one_line("The group", group, 120)
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        let sort = match sort.trim() {
            "" => 0,
            s => s.parse::<i64>().unwrap_or_else(|_| {
                errors.push(format!("the sort order “{s}” is not a whole number"));
                0
            }),
        };
        if errors.is_empty() {
            Ok(IndicatorRow {
                code,
                name,
                description,
                group,
                sort,
                retired,
            })
        } else {
            Err(errors)
        }
    }
}

/// Parses an indicator CSV. Every bad row is reported with its line number;
/// any error means nothing is to be imported.
pub fn parse_csv(text: &str) -> Result<Vec<IndicatorRow>, Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.iter().map(|h| h.to_lowercase()).collect::<Vec<_>>(),
        Err(e) => return Err(vec![format!("line 1: {e}")]),
    };
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(code), Some(name)) = (column("code"), column("name")) else {
        return Err(vec![
            "line 1: the header must name at least the columns code and name".to_owned(),
        ]);
    };
    let (description, group, sort, retired) = (
        column("description"),
        column("group"),
        column("sort"),
        column("retired"),
    );
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("");
        let is_retired = matches!(
            field(retired).to_lowercase().as_str(),
            "1" | "yes" | "true" | "retired"
        );
        match IndicatorRow::parse(
            field(Some(code)),
            field(Some(name)),
            field(description),
            field(group),
            field(sort),
            is_retired,
        ) {
            Ok(row) if !seen.insert(row.code.to_lowercase()) => {
                errors.push(format!("line {line}: the code {} appears twice", row.code));
            }
            Ok(row) => rows.push(row),
            Err(problems) => errors.push(format!("line {line}: {}", problems.join("; "))),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_file_parses() {
        let rows = parse_csv("code,name,description,group,sort\nLKM-1,Learning,\"A, b\",LKM,10\n")
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].description, "A, b");
        assert_eq!(rows[0].sort, 10);
    }

    #[test]
    fn bad_rows_are_reported_by_line() {
        let errors = parse_csv(
            "code,name,description,group,sort\nA-1,Fine,,G,1\n,No code,,G,2\nB-1,Bad sort,,G,x\n",
        )
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("line 3:"), "{errors:?}");
        assert!(errors[1].starts_with("line 4:"), "{errors:?}");
    }

    #[test]
    fn duplicate_codes_are_refused() {
        assert!(parse_csv("code,name\nA-1,x\na-1,y\n").is_err());
    }

    #[test]
    fn the_shipped_sample_table_parses() {
        let rows = parse_csv(include_str!("../seed/indicators.csv")).unwrap();
        assert!(rows.len() >= 10);
    }
}
