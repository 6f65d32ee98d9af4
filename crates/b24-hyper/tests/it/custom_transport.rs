//! The custom-transport example (docs/custom-transport.md) runs: b24-core driven by a
//! blocking std::net client against the emulator's plain-HTTP loopback mode.

#[test]
fn the_blocking_transport_example_runs() {
    crate::blocking_transport::run().unwrap_or_else(|e| panic!("{e}"));
}

/// The doc's Rust snippets are copied from the two transport examples (this one and
/// b24-core's ureq transport) or from the blocking driver, so they cannot drift.
#[test]
fn the_doc_quotes_the_examples_word_for_word() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../../docs/custom-transport.md")).unwrap();
    let sources = [
        "examples/blocking_transport.rs",
        "../b24-core/examples/ureq_transport.rs",
        "../b24-core/src/blocking.rs",
    ]
    .map(|path| std::fs::read_to_string(root.join(path)).unwrap());
    let mut snippets = 0;
    let mut quoted = [false; 3];
    for block in doc.split("```rust\n").skip(1) {
        let code = block.split("\n```").next().unwrap();
        let found = sources
            .iter()
            .position(|source| source.contains(code.trim()));
        let Some(i) = found else {
            panic!("snippet not found in the examples or the driver:\n{code}");
        };
        quoted[i] = true;
        snippets += 1;
    }
    assert!(
        snippets >= 6,
        "expected the transports, the mapping and the loop"
    );
    assert_eq!(quoted, [true; 3], "each source is quoted");
}
