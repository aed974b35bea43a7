//! A `wasi:cli` command (it exports `wasi:cli/run`, not `wasi:http/incoming-handler`): a valid
//! component of the wrong world, which the runtime must refuse at load with the reason.

fn main() {
    println!("I am a command, not an app");
}
