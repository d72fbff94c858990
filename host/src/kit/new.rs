//! `hzlab new`: a scenario project, ready to build, outside any repository.

use std::fs;
use std::path::{Path, PathBuf};

use super::{templates, KitError, Lang};

/// A project `new_project` wrote.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub name: String,
    pub lang: Lang,
    /// The project directory.
    pub dir: PathBuf,
    /// The component `hzlab build` makes: `DIR/NAME.wasm`.
    pub component: PathBuf,
    /// Every file written, relative to `dir`.
    pub files: Vec<PathBuf>,
}

/// Checks a scenario name: it names the directory, the crate and the component file.
pub fn check_name(name: &str) -> Result<(), KitError> {
    let bad = |reason: &str| {
        Err(KitError::BadName {
            name: name.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 64 {
        return bad("it is longer than 64 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return bad("it must start with a lowercase letter (a-z)");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
    {
        return bad(&format!(
            "`{c}` is not allowed: use lowercase letters, digits, `-` and `_`"
        ));
    }
    const RESERVED: &[&str] = &[
        "hzlab-guest",
        "hzlab_guest",
        "app",
        "wit_world",
        "test",
        "core",
        "std",
        "alloc",
        "self",
        "super",
        "crate",
    ];
    if RESERVED.contains(&name) {
        return bad("it is reserved (a crate or module name the project already uses)");
    }
    Ok(())
}

/// Writes project `name` in `parent` (it must not exist yet) and returns what it wrote.
pub fn new_project(name: &str, lang: Lang, parent: &Path) -> Result<NewProject, KitError> {
    check_name(name)?;
    let dir = parent.join(name);
    if dir.exists() {
        return Err(KitError::Exists { path: dir });
    }
    let mut files: Vec<(PathBuf, String)> = vec![
        ("wit/hzlab.wit".into(), templates::WIT.to_owned()),
        (".gitignore".into(), gitignore(lang).to_owned()),
        ("README.md".into(), readme(name, lang)),
    ];
    match lang {
        Lang::Rust => {
            files.push((
                "Cargo.toml".into(),
                templates::RUST_MANIFEST.replace("{{name}}", name),
            ));
            files.push(("src/lib.rs".into(), templates::RUST_LIB.to_owned()));
            files.push((
                ".cargo/config.toml".into(),
                templates::RUST_CARGO_CONFIG.to_owned(),
            ));
            files.push((
                "vendor/hzlab-guest/Cargo.toml".into(),
                templates::rust_guest_manifest(),
            ));
            files.push((
                "vendor/hzlab-guest/src/lib.rs".into(),
                templates::RUST_GUEST_LIB.to_owned(),
            ));
        }
        Lang::Python => {
            files.push(("app.py".into(), templates::PYTHON_APP.to_owned()));
            files.push((
                "hzlab_guest.py".into(),
                templates::PYTHON_GUEST_LIB.to_owned(),
            ));
        }
    }
    fs::create_dir_all(parent).map_err(KitError::io("create", parent))?;
    fs::create_dir(&dir).map_err(KitError::io("create", &dir))?;
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(p) = path.parent() {
            fs::create_dir_all(p).map_err(KitError::io("create", p))?;
        }
        fs::write(&path, text).map_err(KitError::io("write", &path))?;
    }
    Ok(NewProject {
        name: name.to_owned(),
        lang,
        component: dir.join(format!("{name}.wasm")),
        dir,
        files: files.into_iter().map(|(p, _)| p).collect(),
    })
}

fn gitignore(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "/target\n/*.wasm\n",
        Lang::Python => "/*.wasm\n__pycache__/\n",
    }
}

fn readme(name: &str, lang: Lang) -> String {
    let (what, edit) = match lang {
        Lang::Rust => (
            "a Rust crate over the vendored `hzlab-guest` library (vendor/hzlab-guest)",
            "src/lib.rs",
        ),
        Lang::Python => (
            "a Python module over the vendored `hzlab_guest.py`, built with componentize-py",
            "app.py",
        ),
    };
    format!(
        "# {name}\n\n\
         An hzlab scenario: {what}. The scenario world it targets is `wit/hzlab.wit`.\n\n\
         ```sh\n\
         hzlab build                       # -> {name}.wasm\n\
         hzlab run ./{name}.wasm --instances 4\n\
         hzlab inspect {name}.wasm          # world, imports, size and SHA-256, to share it\n\
         ```\n\n\
         Edit `{edit}`: `setup` runs once, `run` in every instance at the same time, `verify`\n\
         once at the end and checks the invariants.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["bank", "my-bank", "bank_2"] {
            check_name(good).unwrap();
        }
        for (bad, why) in [
            ("", "empty"),
            ("Bank", "lowercase letter"),
            ("2bank", "lowercase letter"),
            ("my bank", "` ` is not allowed"),
            ("../bank", "lowercase letter"),
            ("a/b", "`/` is not allowed"),
            ("app", "reserved"),
        ] {
            let e = check_name(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn a_project_is_written_once() {
        let parent = std::env::temp_dir().join(format!("hzlab-new-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&parent);
        let p = new_project("bank", Lang::Python, &parent).unwrap();
        assert!(p.dir.join("app.py").is_file());
        assert!(p.dir.join("hzlab_guest.py").is_file());
        assert!(p.dir.join("wit/hzlab.wit").is_file());
        let e = new_project("bank", Lang::Rust, &parent).unwrap_err();
        assert!(matches!(e, KitError::Exists { .. }), "{e}");
        let r = new_project("vault", Lang::Rust, &parent).unwrap();
        let manifest = fs::read_to_string(r.dir.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"vault\""), "{manifest}");
        assert!(r.dir.join("vendor/hzlab-guest/src/lib.rs").is_file());
        fs::remove_dir_all(&parent).unwrap();
    }
}
