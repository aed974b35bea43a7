//! The build service's stages.

mod compiler;
