//! `keyward completions bash|zsh|fish` (issue 17, item 14): scripts
//! generated from the same definitions as `--help`, so every flag is in them.

use std::process::Command;

fn completions(shell: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["completions", shell])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn completion_scripts_for_bash_zsh_and_fish() {
    let bash = completions("bash");
    // Bash reads it and registers the completion function.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("keyward.bash");
    std::fs::write(&script, &bash).unwrap();
    let registered = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p keyward",
            script.display()
        ))
        .output()
        .unwrap();
    assert!(
        registered.status.success(),
        "{}",
        String::from_utf8_lossy(&registered.stderr)
    );
    assert!(String::from_utf8_lossy(&registered.stdout).contains("-F _keyward keyward"));
    for flag in [
        "--trail-segment-mib",
        "--trail-digest-interval-seconds",
        "--force",
    ] {
        assert!(bash.contains(flag), "{flag} is not completed");
    }
    assert!(completions("zsh").starts_with("#compdef keyward"));
    assert!(completions("fish").contains("complete -c keyward"));
    let unknown = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
}
