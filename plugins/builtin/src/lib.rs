//! The first-party agent plugins (`plugins/`), built from source by this crate's build script and
//! embedded: each one's component, its signed-to-be manifest (the same format a third party
//! publishes), and the system instructions and configuration the host records in the registry with
//! its version. The host installs them at start (`vibe_host::agents::builtin`).

/// A first-party plugin, as embedded in the `vibe` binary.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinPlugin {
    /// The agent type it serves (and is routed for when nothing else is).
    pub agent_type: &'static str,
    /// The `vibe:agent@0.1.0` component.
    pub component: &'static [u8],
    /// Its manifest, JSON (`host/src/agents/registry/package.rs`).
    pub manifest: &'static str,
    /// The system instructions it gives the model.
    pub instructions: &'static str,
    /// Its configuration, JSON.
    pub configuration: &'static str,
}

/// The ideation agent (`vibe-ideation`, agent type `ideation`).
pub const IDEATION: BuiltinPlugin = BuiltinPlugin {
    agent_type: "ideation",
    component: include_bytes!(concat!(env!("OUT_DIR"), "/ideation.wasm")),
    manifest: include_str!("../../ideation/manifest.json"),
    instructions: include_str!("../../ideation/instructions.md"),
    configuration: include_str!("../../ideation/configuration.json"),
};

/// The spec agent (`vibe-spec`, agent type `spec`).
pub const SPEC: BuiltinPlugin = BuiltinPlugin {
    agent_type: "spec",
    component: include_bytes!(concat!(env!("OUT_DIR"), "/spec.wasm")),
    manifest: include_str!("../../spec/manifest.json"),
    instructions: include_str!("../../spec/instructions.md"),
    configuration: include_str!("../../spec/configuration.json"),
};

/// The build agent (`vibe-build`, agent type `build`): fixes the generated code from the
/// compiler's or the tests' errors when an LLM is configured.
pub const BUILD: BuiltinPlugin = BuiltinPlugin {
    agent_type: "build",
    component: include_bytes!(concat!(env!("OUT_DIR"), "/build.wasm")),
    manifest: include_str!("../../build/manifest.json"),
    instructions: include_str!("../../build/instructions.md"),
    configuration: include_str!("../../build/configuration.json"),
};

/// Every first-party plugin, in pipeline order.
pub const ALL: &[BuiltinPlugin] = &[IDEATION, SPEC, BUILD];
