//! The custom-transport example (docs/custom-transport.md) runs: b24-core driven by a
//! blocking std::net client against the emulator's plain-HTTP loopback mode.

#[test]
fn the_blocking_transport_example_runs() {
    crate::blocking_transport::run().unwrap_or_else(|e| panic!("{e}"));
}

/// The doc's Rust snippets are copied from the example, so they cannot drift.
#[test]
fn the_doc_quotes_the_example_word_for_word() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../../docs/custom-transport.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/blocking_transport.rs")).unwrap();
    let mut snippets = 0;
    for block in doc.split("```rust\n").skip(1) {
        let code = block.split("\n```").next().unwrap();
        assert!(
            example.contains(code.trim()),
            "snippet not found in the example:\n{code}"
        );
        snippets += 1;
    }
    assert!(snippets >= 3, "expected the loop, the state and send()");
}
