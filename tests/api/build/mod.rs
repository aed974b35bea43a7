//! The build service's stages, each on its own: the test runner against real PostgreSQL and real
//! components, and the apps' code repositories with the real `git`.

mod repo;
mod runner;
