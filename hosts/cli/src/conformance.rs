//! `stepup conformance`: run vector files through an engine.

use std::path::{Path, PathBuf};

use stepup_conformance::{load_cases, run_case};

use crate::{EngineKind, Failure, engine, files};

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), Failure> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Failure::Io(format!("cannot list {}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "json") {
                collect(&e, out)?;
            }
        }
        Ok(())
    } else if path.exists() {
        out.push(path.to_path_buf());
        Ok(())
    } else {
        Err(Failure::Io(format!("{} does not exist", path.display())))
    }
}

/// Runs every case; prints each failure with expected vs got, then `N passed, N failed`.
pub fn run(kind: EngineKind, paths: &[String]) -> Result<(), Failure> {
    let mut list = Vec::new();
    for p in paths {
        collect(Path::new(p), &mut list)?;
    }
    let mut engine = engine::make(kind)?;
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in &list {
        let text = files::read(&file.to_string_lossy())?;
        let cases = match load_cases(&text) {
            Ok(c) => c,
            Err(e) => {
                println!("FAIL {}: not a vector file: {e}", file.display());
                failed += 1;
                continue;
            }
        };
        for case in &cases {
            match run_case(engine.as_mut(), case) {
                Ok(()) => passed += 1,
                Err(diffs) => {
                    failed += 1;
                    println!("FAIL {}: {}", file.display(), case.name);
                    for d in diffs {
                        println!("    {d}");
                    }
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        Err(Failure::Failed)
    } else {
        Ok(())
    }
}
