//! File globs as Go's `filepath.Glob` reads them (`*`, `?`, `[a-z]`,
//! `[^...]`, `\` escapes; wildcards never cross `/`), for
//! `scrape_config_files` and `rule_files`.

use std::path::{Path, PathBuf};

/// The most entries one glob may return, so a pattern like `/*/*/*` cannot
/// make a reload walk a whole filesystem.
pub const GLOB_MATCHES_MAX: usize = 10_000;

/// Whether `name` (one path element) matches `pattern` (one path element).
/// A malformed pattern is an error, as in Go.
pub fn match_element(pattern: &str, name: &str) -> Result<bool, String> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Validate the whole pattern first: Go reports a bad pattern even when
    // matching stops early.
    let mut i = 0;
    while i < p.len() {
        i = match p[i] {
            '[' => class_end(&p, i)?,
            '\\' if i + 1 >= p.len() => return Err("syntax error in pattern".into()),
            '\\' => i + 2,
            _ => i + 1,
        };
    }
    Ok(match_from(&p, &n))
}

/// Index just after the class starting at `p[start] == '['`.
fn class_end(p: &[char], start: usize) -> Result<usize, String> {
    let mut i = start + 1;
    if p.get(i) == Some(&'^') {
        i += 1;
    }
    let mut first = true;
    loop {
        match p.get(i) {
            None => return Err("syntax error in pattern".into()),
            Some(']') if !first => return Ok(i + 1),
            Some('\\') => i += 2,
            Some(_) => i += 1,
        }
        first = false;
    }
}

fn class_matches(p: &[char], start: usize, c: char) -> bool {
    let mut i = start + 1;
    let negate = p.get(i) == Some(&'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() && (first || p[i] != ']') {
        first = false;
        let mut lo = p[i];
        if lo == '\\' {
            i += 1;
            lo = p.get(i).copied().unwrap_or('\\');
        }
        i += 1;
        let mut hi = lo;
        if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|c| *c != ']') {
            hi = p[i + 1];
            if hi == '\\' {
                hi = p.get(i + 2).copied().unwrap_or('\\');
                i += 1;
            }
            i += 2;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
    }
    matched != negate
}

fn match_from(p: &[char], n: &[char]) -> bool {
    let (mut pi, mut ni) = (0, 0);
    // Backtracking point for the last `*`: (pattern index after it, name index).
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi + 1, ni));
                pi += 1;
                continue;
            }
            Some('?') if n[ni] != '/' => Some(pi + 1),
            Some('[') if n[ni] != '/' && class_matches(p, pi, n[ni]) => class_end(p, pi).ok(),
            Some('\\') if p.get(pi + 1) == Some(&n[ni]) => Some(pi + 2),
            Some(c) if !matches!(c, '?' | '[' | '\\') && *c == n[ni] => Some(pi + 1),
            _ => None,
        };
        match step {
            Some(next) => {
                pi = next;
                ni += 1;
            }
            None => match star {
                Some((sp, sn)) if n[sn] != '/' => {
                    star = Some((sp, sn + 1));
                    pi = sp;
                    ni = sn + 1;
                }
                _ => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn has_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '\\'])
}

/// Expands a glob into the existing paths it matches, sorted within each
/// directory like Go. A pattern without wildcards yields itself if it exists.
pub fn glob(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let path = Path::new(pattern);
    if !has_meta(pattern) {
        return Ok(if path.exists() {
            vec![path.to_path_buf()]
        } else {
            Vec::new()
        });
    }
    let mut bases = vec![PathBuf::new()];
    for comp in path.components() {
        let part = comp.as_os_str().to_string_lossy();
        let mut next = Vec::new();
        for base in &bases {
            if !has_meta(&part) {
                next.push(base.join(comp));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for name in names {
                if match_element(&part, &name)? {
                    next.push(base.join(&name));
                }
            }
            if next.len() > GLOB_MATCHES_MAX {
                return Err(format!("matches more than {GLOB_MATCHES_MAX} paths"));
            }
        }
        bases = next;
    }
    Ok(bases.into_iter().filter(|p| p.exists()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, name: &str, want: bool) {
        assert_eq!(
            match_element(pattern, name),
            Ok(want),
            "{pattern} vs {name}"
        );
    }

    #[test]
    fn matches_like_go() {
        check("abc", "abc", true);
        check("*", "abc", true);
        check("*c", "abc", true);
        check("a*", "a", true);
        check("a*/b", "abc/b", true);
        check("a*/b", "a/c/b", false);
        check("a*b*c*d*e*/f", "axbxcxdxe/f", true);
        check("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false);
        check("ab[c]", "abc", true);
        check("ab[b-d]", "abc", true);
        check("ab[e-g]", "abc", false);
        check("ab[^c]", "abc", false);
        check("ab[^b-d]", "abe", true);
        check("a\\*b", "a*b", true);
        check("a\\*b", "ab", false);
        check("a?b", "a☺b", true);
        check("a?b", "a/b", false);
        check("*.yml", ".hidden.yml", true);
        check("*.yml", "jobs.yaml", false);
        assert!(match_element("[", "a").is_err());
        assert!(match_element("a[", "a").is_err());
        assert!(match_element("\\", "a").is_err());
    }

    #[test]
    fn expands_in_directories() {
        let dir = std::env::temp_dir().join(format!("beacon-config-glob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for f in ["b.yml", "a.yml", "c.txt", "sub/d.yml"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let pat = format!("{}/*.yml", dir.display());
        let got: Vec<String> = glob(&pat)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(got, ["a.yml", "b.yml"]);
        assert_eq!(
            glob(&format!("{}/*/*.yml", dir.display())).unwrap().len(),
            1
        );
        assert_eq!(
            glob(&format!("{}/none.yml", dir.display())).unwrap().len(),
            0
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
