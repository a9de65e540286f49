//! Cafe's integration tests, in one test binary: a module per domain (the
//! names of the former test binaries) over the helpers of `support`.
//! `cargo test --test it transfer::` runs one domain.

mod support;

mod abuse;
mod asking;
mod browser;
mod browser_asking;
mod browser_feedback;
mod browser_files;
mod browser_finding;
mod browser_following;
mod browser_housekeeping;
mod browser_oidc;
mod browser_wayfinding;
mod cache_freshness;
mod community;
mod concurrent_saves;
mod copy;
mod core_accounts;
mod core_pages;
mod core_security;
mod core_server;
mod db_pool;
mod fake_oidc;
mod fast_path;
mod faults;
mod feedback;
mod feeds;
mod files;
mod finding_ux;
mod following;
mod hardening_accounts;
mod hardening_edge;
mod hardening_edits;
mod hardening_forms;
mod hardening_markup;
mod hostile;
mod housekeeping;
mod instances;
mod mail;
mod mail_process;
mod member_pages;
mod oidc;
mod search;
mod smoke;
mod tags;
mod transfer;
mod wayfinding;
