//! An agent of a future `vibe:agent@0.2.0` (its WIT inline here): the host serves 0.1.0 and must
//! refuse it at load, naming the version.

wit_bindgen::generate!({
    inline: r#"
        package vibe:agent@0.2.0;

        interface plugin {
            describe: func() -> string;
        }

        world agent {
            export plugin;
        }
    "#,
});

struct Future;

impl exports::vibe::agent::plugin::Guest for Future {
    fn describe() -> String {
        "an agent from the future".to_owned()
    }
}

export!(Future);
