//! Embeds every file under `assets/` into the binary, so a fresh machine
//! serves the design system without npm or a separate static directory.

use std::{env, fmt::Write, fs, path::Path};

fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, root, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn main() {
    let root = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("assets");
    println!("cargo:rerun-if-changed=assets");
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    let mut code = String::from(
        "/// Every file under `assets/`: (path, bytes).\npub static ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for f in files {
        let abs = root.join(&f);
        let _ = writeln!(
            code,
            "    ({f:?}, include_bytes!({:?})),",
            abs.to_string_lossy()
        );
    }
    code.push_str("];\n");
    let out = Path::new(&env::var("OUT_DIR").unwrap_or_default()).join("assets.rs");
    fs::write(out, code).unwrap_or_else(|e| panic!("writing assets.rs: {e}"));
}
