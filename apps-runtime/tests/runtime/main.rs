//! The apps runtime's integration tests, on real components built from tests/components: serving,
//! per-request isolation, every limit, hostile apps, refusals at load, the artifact cache, log
//! capture, the capabilities, outbound HTTP and the WASI sandbox; and the SDK's example app, built
//! from sdk/examples.

mod support;

mod capabilities;
mod hostile;
mod limits;
mod loading;
mod outbound;
mod sandbox;
mod sdk;
mod serving;
