//! Checks the tags typed in a method's tag box before they are saved: a code
//! that looks like a CCASS indicator but is not one (`lkm-9`, `LKM1`) and a
//! near-duplicate of a tag already in use (`learnings` beside `learning`)
//! are most likely slips that would quietly split a tag in two. The form is
//! re-shown with a warning the author can confirm.

use std::collections::BTreeSet;

use super::TagList;
use super::db::{self, Indicator};
use crate::db::Db;

/// Most suggestions named in one warning.
const MAX_SUGGESTIONS: usize = 4;

/// The warnings for the tags of `tags` that are neither an indicator nor a
/// tag in use; empty when nothing looks like a slip.
pub async fn check(pool: &Db, tags: &TagList) -> sqlx::Result<Vec<String>> {
    if tags.is_empty() {
        return Ok(Vec::new());
    }
    let indicators = db::indicators(pool).await?;
    let in_use: Vec<String> = db::tag_counts(pool)
        .await?
        .into_iter()
        .map(|(tag, _)| tag)
        .collect();
    Ok(warnings(tags, &indicators, &in_use))
}

/// The pure part of [`check`], one warning per doubtful tag, in the order typed.
pub fn warnings(tags: &TagList, indicators: &[Indicator], in_use: &[String]) -> Vec<String> {
    let current: Vec<&Indicator> = indicators.iter().filter(|i| !i.retired).collect();
    let known =
        |tag: &str| indicators.iter().any(|i| i.tag == tag) || in_use.iter().any(|t| t == tag);
    let mut out = Vec::new();
    for tag in tags.iter().map(|t| t.as_str()) {
        if known(tag) {
            continue;
        }
        if let Some(warning) = indicator_warning(tag, &current) {
            out.push(warning);
            continue;
        }
        let mut near: BTreeSet<&str> = BTreeSet::new();
        for other in in_use
            .iter()
            .map(String::as_str)
            .chain(current.iter().map(|i| i.tag.as_str()))
        {
            if other != tag
                && near_duplicate(tag, other)
                && !tags.iter().any(|t| t.as_str() == other)
            {
                near.insert(other);
            }
        }
        if !near.is_empty() {
            let near: Vec<&str> = near.into_iter().take(MAX_SUGGESTIONS).collect();
            let label = |t: &str| match indicators.iter().find(|i| i.tag == t) {
                Some(i) => format!("{t} ({})", i.name),
                None => t.to_owned(),
            };
            out.push(format!(
                "{tag} is a new tag, close to the existing {} — did you mean {}?",
                if near.len() == 1 { "tag" } else { "tags" },
                or_list(&near.iter().map(|t| label(t)).collect::<Vec<_>>())
            ));
        }
    }
    out
}

/// A warning when `tag` is written like an indicator code without being one.
fn indicator_warning(tag: &str, current: &[&Indicator]) -> Option<String> {
    let squashed = squash(tag);
    let same: Vec<&&Indicator> = current
        .iter()
        .filter(|i| squash(&i.tag) == squashed)
        .collect();
    let mut candidates: Vec<&&Indicator> = if !same.is_empty() {
        same
    } else if let Some((prefix, number)) = code_parts(tag) {
        let mut by_prefix: Vec<&&Indicator> = current
            .iter()
            .filter(|i| code_parts(&i.tag).is_some_and(|(p, _)| p == prefix))
            .collect();
        // The nearest numbers first: lkm-9 suggests lkm-4, lkm-3, …
        by_prefix.sort_by_key(|i| code_parts(&i.tag).map_or(u64::MAX, |(_, n)| n.abs_diff(number)));
        by_prefix
    } else {
        Vec::new()
    };
    if candidates.is_empty() {
        return None;
    }
    candidates.truncate(MAX_SUGGESTIONS);
    candidates.sort_by(|a, b| a.sort.cmp(&b.sort).then(a.tag.cmp(&b.tag)));
    let named: Vec<String> = candidates
        .iter()
        .map(|i| format!("{} ({})", i.tag, i.name))
        .collect();
    Some(format!(
        "{tag} is not a CCASS indicator — did you mean {}?",
        or_list(&named)
    ))
}

/// `lkm-9`, `lkm9`, `lkm 9`, `lkm_9` → (`lkm`, 9): letters, at most one
/// separator, digits.
fn code_parts(tag: &str) -> Option<(&str, u64)> {
    let letters = tag
        .find(|c: char| !c.is_ascii_alphabetic())
        .filter(|&end| end > 0)?;
    let (prefix, rest) = tag.split_at(letters);
    let digits = rest.strip_prefix(['-', '_', '.', ' ']).unwrap_or(rest);
    if digits.is_empty() || digits.len() > 6 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((prefix, digits.parse().ok()?))
}

/// Letters and digits only: `peer-learning`, `peer learning` and
/// `peerlearning` are the same to a reader.
fn squash(tag: &str) -> String {
    tag.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// Whether two different tags are most likely one meant twice: the same
/// letters, a plural, or one typing slip in a longer word (a different
/// digit is a different thing: `round 1`, `round 2`).
fn near_duplicate(a: &str, b: &str) -> bool {
    let (sa, sb) = (squash(a), squash(b));
    if sa.is_empty() || sb.is_empty() {
        return false;
    }
    if sa == sb {
        return true;
    }
    let plural = |one: &str, many: &str| {
        many.strip_suffix('s')
            .is_some_and(|stem| stem == one || stem.strip_suffix('e') == Some(one))
    };
    if sa.chars().count().min(sb.chars().count()) >= 4 && (plural(a, b) || plural(b, a)) {
        return true;
    }
    let differs_in_digits =
        sa.chars().any(|c| c.is_ascii_digit()) || sb.chars().any(|c| c.is_ascii_digit());
    let (la, lb) = (a.chars().count(), b.chars().count());
    // The cheap checks first: a site may have thousands of tags in use.
    la.min(lb) >= 6 && la.abs_diff(lb) <= 1 && !differs_in_digits && edit_distance(a, b) == 1
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indicator(code: &str, name: &str, sort: i64) -> Indicator {
        Indicator {
            code: code.to_owned(),
            tag: code.to_lowercase(),
            name: name.to_owned(),
            description: String::new(),
            grp: "Learning".to_owned(),
            sort,
            retired: false,
        }
    }

    fn table() -> Vec<Indicator> {
        vec![
            indicator("LKM-1", "Learning agenda", 10),
            indicator("LKM-2", "Knowledge shared", 20),
            indicator("ME-1", "Results monitored", 10),
        ]
    }

    fn check(typed: &str, in_use: &[&str]) -> Vec<String> {
        let in_use: Vec<String> = in_use.iter().map(|t| (*t).to_owned()).collect();
        warnings(&TagList::parse(typed).expect("tags"), &table(), &in_use)
    }

    #[test]
    fn an_unknown_code_with_an_indicator_prefix_is_questioned() {
        assert_eq!(
            check("lkm-9", &[]),
            [
                "lkm-9 is not a CCASS indicator — did you mean lkm-1 (Learning agenda) or lkm-2 (Knowledge shared)?"
            ]
        );
    }

    #[test]
    fn an_indicator_code_without_its_hyphen_is_questioned() {
        assert_eq!(
            check("LKM1", &[]),
            ["lkm1 is not a CCASS indicator — did you mean lkm-1 (Learning agenda)?"]
        );
    }

    #[test]
    fn a_plural_of_a_tag_in_use_is_questioned() {
        assert_eq!(
            check("learnings", &["learning"]),
            ["learnings is a new tag, close to the existing tag — did you mean learning?"]
        );
    }

    #[test]
    fn known_tags_indicators_and_unrelated_codes_pass() {
        assert!(
            check(
                "lkm-1, learning, covid-19, round 2",
                &["learning", "round 1"]
            )
            .is_empty()
        );
        assert!(check("learnings", &["learnings", "learning"]).is_empty());
    }

    #[test]
    fn a_typing_slip_in_a_long_tag_is_questioned_but_not_in_a_short_one() {
        assert_eq!(check("facilitaton", &["facilitation"]).len(), 1);
        assert!(check("goal", &["goat"]).is_empty());
    }
}
