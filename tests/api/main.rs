//! Integration tests of the platform API against real PostgreSQL (a fresh database per test) and real HTTP.

mod agents_runtime;
mod app_hosting;
mod apps;
mod auth;
mod authz;
mod bad_input;
mod builtin_agents;
mod cli;
mod collaborators;
mod credits;
mod embedded;
mod events;
mod ideas;
mod ledger;
mod llm;
mod mail;
mod me;
mod openapi;
mod ops;
mod orchestrator;
mod plugins;
mod routing;
mod sessions;
mod specs;
mod support;
mod web;
