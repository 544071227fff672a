use std::process::Command;

#[test]
fn schema_file_is_the_current_sdl() {
    let out = Command::new(env!("CARGO_BIN_EXE_chatgql"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql exists");
    assert!(
        printed == committed,
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
    for name in [
        "type Query",
        "type Mutation",
        "type Subscription",
        "union RoomEvent",
        "scalar DateTime",
        "enum RealtimeMode",
    ] {
        assert!(printed.contains(name), "schema lacks {name}");
    }
}
