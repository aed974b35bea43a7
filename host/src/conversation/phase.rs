//! An idea's phase (`ideas.status`) and the agent type that serves it.
//!
//! The phase decides which agent answers a session's next message: ideation → `ideation`,
//! specification → `spec`, building → `build`, live → `support`. A hand-off names the agent type that
//! takes over; the idea then moves to that agent's phase, forward only (an agent cannot send an idea
//! back from building to ideation).

/// The agent type that serves an idea in `phase`.
pub fn agent_type_for(phase: &str) -> Option<&'static str> {
    match phase {
        "ideation" => Some("ideation"),
        "specification" => Some("spec"),
        "building" => Some("build"),
        "live" => Some("support"),
        _ => None,
    }
}

/// The phase an idea enters when it is handed off to agent type `to_stage`.
pub fn phase_after_hand_off(to_stage: &str) -> Option<&'static str> {
    match to_stage {
        "spec" | "specification" => Some("specification"),
        "build" | "building" => Some("building"),
        _ => None,
    }
}

/// The phases in order, for the forward-only rule.
const ORDER: [&str; 4] = ["ideation", "specification", "building", "live"];

/// Whether moving from phase `from` to phase `to` goes forward.
pub fn moves_forward(from: &str, to: &str) -> bool {
    let rank = |phase: &str| ORDER.iter().position(|known| *known == phase);
    matches!((rank(from), rank(to)), (Some(from), Some(to)) if to > from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phase_has_its_agent_and_hand_offs_only_go_forward() {
        assert_eq!(agent_type_for("ideation"), Some("ideation"));
        assert_eq!(agent_type_for("specification"), Some("spec"));
        assert_eq!(agent_type_for("nonsense"), None);
        assert_eq!(phase_after_hand_off("spec"), Some("specification"));
        assert_eq!(phase_after_hand_off("ideation"), None);
        assert!(moves_forward("ideation", "specification"));
        assert!(!moves_forward("building", "specification"));
        assert!(!moves_forward("specification", "specification"));
    }
}
