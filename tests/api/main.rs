//! Integration tests of the platform API against real PostgreSQL (a fresh database per test) and real HTTP.

mod support;
