//! Runs our own test scripts (`testdata/*.test`) against the engine. Every
//! eval must pass unless `testdata/skip.txt` lists it with a reason; the
//! skip list may not name evals that do not exist.

use std::path::{Path, PathBuf};

use beacon_promqltest::{SkipList, print_summary, run_files};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");

#[test]
fn own_scripts_pass() {
    let dir = Path::new(TESTDATA);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("testdata is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "expected our scripts in {}",
        dir.display()
    );
    let skips = SkipList::load(&dir.join("skip.txt")).expect("skip.txt parses");
    let summary = run_files(&files, &skips);
    let mut out = Vec::new();
    print_summary(&summary, &mut out).expect("writing to memory");
    println!("{}", String::from_utf8_lossy(&out));
    for f in &summary.files {
        assert!(
            f.error.is_none(),
            "{}: {}",
            f.name,
            f.error.as_deref().unwrap_or("")
        );
    }
    assert!(
        summary.unused_skips.is_empty(),
        "stale skip entries: {:?}",
        summary.unused_skips
    );
    assert_eq!(
        summary.failed(),
        0,
        "our own scripts have failing evals (see above)"
    );
}
