//! The build service (issue 6), stage by stage, on real PostgreSQL.

mod repair;
