//! Cafe: a server-rendered wiki of method pages, stories and rosters for
//! communities of practice. `app()` builds the whole web application; the
//! `cli` module runs it and the operator subcommands.

pub mod accounts;
pub mod app;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod files;
pub mod follow;
pub mod group_commit;
pub mod mail;
pub mod markup;
pub mod merge;
pub mod oidc;
pub mod pages;
pub mod recent;
pub mod roster;
pub mod search;
pub mod seed;
pub mod server;
pub mod state;
pub mod static_files;
pub mod stories;
pub mod tags;
pub mod transfer;
pub mod web;

pub use app::app;
/// The renderer under its old path, for the examples and tests that call
/// `cafe::markdown::…`.
pub use markup::markdown;
pub use state::AppState;
