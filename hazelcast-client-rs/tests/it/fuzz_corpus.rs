//! The fuzz targets' committed corpora (`fuzz/corpus/frames`, `fuzz/corpus/responses`: seeds
//! from real exchanges, and every input that once crashed a target) through the targets' entry
//! points, on the stable toolchain: what the fuzzer once found stays fixed.

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus")).join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "{} holds {} files",
        dir.display(),
        files.len()
    );
    files
}

#[test]
fn the_frames_corpus_decodes_without_panics() {
    for (path, bytes) in corpus("frames") {
        eprintln!("{}", path.display());
        hazelcast_client::fuzzing::wire(&bytes);
    }
}

#[test]
fn the_responses_corpus_decodes_without_panics() {
    for (path, bytes) in corpus("responses") {
        eprintln!("{}", path.display());
        hazelcast_client::fuzzing::message_bytes(&bytes);
    }
}
