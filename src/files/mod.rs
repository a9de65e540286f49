//! Files attached to method pages and stories: images, diagrams,
//! facilitation guides. Their bytes live in the database, content-addressed
//! and in chunks (see `db`), so every instance, backup and copy has them.

pub mod kind;
