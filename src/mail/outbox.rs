//! The durable outbox: every mail is a row first, then handed to the SMTP
//! server by one sender at a time.
//!
//! A sender takes a job with a lease (one statement: on PostgreSQL the
//! row is locked with `FOR UPDATE SKIP LOCKED`, so two instances never take
//! the same; SQLite has one writer), sends it, and marks it sent. A failure
//! puts it back with a later `next_attempt` (back-off), and after
//! `--mail-max-attempts` marks it failed, which the member's settings page
//! shows. A job whose sender died (killed, or cut off) is taken again when
//! its lease runs out: nothing is lost. The one case a mail can go twice is
//! a sender that dies after the SMTP server took the mail and before it
//! marked it sent (SMTP has no way to ask "did you get it?").

use super::db;
use crate::state::AppState;

/// How long a sender holds a job: longer than the SMTP timeout (30 s) by far.
const LEASE_MS: i64 = 5 * 60_000;

/// Waits after the 1st, 2nd, … failed attempt, in units of
/// `--mail-retry-secs` (60 s: 1 min, 5 min, 30 min, 2 h, 6 h, 12 h, 24 h).
const BACK_OFF: [i64; 7] = [1, 5, 30, 120, 360, 720, 1440];

/// The wait after `attempts` failed attempts, in ms (at least 1 s).
pub fn back_off_ms(attempts: i64, retry_secs: u64) -> i64 {
    let step = usize::try_from(attempts.max(1) - 1).unwrap_or(0);
    let units = BACK_OFF[step.min(BACK_OFF.len() - 1)];
    (units * i64::try_from(retry_secs).unwrap_or(60) * 1000).max(1000)
}

/// Sends every mail due now, one at a time; a mail that fails now is not
/// tried again in this round. How many went out.
pub async fn send_due(state: &AppState) -> anyhow::Result<usize> {
    let Some(sender) = state.mail.sender.clone() else {
        return Ok(0);
    };
    let owner = state.mail.owner.as_str();
    let started = super::now_ms();
    let max_attempts = i64::from(state.config.mail_max_attempts);
    let mut sent = 0;
    loop {
        let now = super::now_ms();
        let Some(job) = db::claim(&state.pool, owner, started, now, now + LEASE_MS).await? else {
            return Ok(sent);
        };
        let outcome = sender
            .send(&super::smtp::Outgoing {
                to: &job.to_addr,
                subject: &job.subject,
                text: &job.body_text,
                html: &job.body_html,
                headers: &job.headers,
            })
            .await;
        let now = super::now_ms();
        match outcome {
            Ok(()) => {
                db::finish(&state.pool, job.id, owner, "sent", now, "").await?;
                sent += 1;
            }
            Err(err) => {
                let error = format!("{err:#}");
                let error: String = error.chars().take(500).collect();
                let (next_state, next) = if job.attempts >= max_attempts {
                    ("failed", now)
                } else {
                    (
                        "pending",
                        now + back_off_ms(job.attempts, state.config.mail_retry_secs),
                    )
                };
                tracing::warn!(
                    mail = job.id,
                    attempts = job.attempts,
                    state = next_state,
                    error,
                    "mail not sent"
                );
                db::finish(&state.pool, job.id, owner, next_state, next, &error).await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::back_off_ms;

    #[test]
    fn retries_wait_longer_each_time_and_never_less_than_a_second() {
        assert_eq!(back_off_ms(1, 60), 60_000);
        assert_eq!(back_off_ms(2, 60), 300_000);
        assert_eq!(back_off_ms(4, 60), 7_200_000);
        assert_eq!(back_off_ms(40, 60), 1440 * 60_000);
        assert_eq!(back_off_ms(1, 0), 1000);
    }
}
