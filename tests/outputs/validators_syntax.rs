//! Syntax validators per language: valid code passes; each broken snippet fails with a reason
//! that names the (1-based, code-relative) line.

use orchestrator_tui::validators::{ValidatorSpec, ValidatorsConfig, Verdict, run_all};

fn run(validator: &str, output: &str) -> (Verdict, String) {
    let r = run_all(
        &[ValidatorSpec::named(validator)],
        output,
        &ValidatorsConfig::default(),
    );
    (r[0].result, r[0].reason.clone().unwrap_or_default())
}

fn fence(lang: &str, code: &str) -> String {
    format!("Here is the code:\n\n```{lang}\n{code}```\n\nIt does what was asked.\n")
}

/// Every valid snippet passes; every (broken snippet, line) fails naming `line N`.
fn check_language(validator: &str, tag: &str, valid: &[&str], broken: &[(&str, usize)]) {
    for code in valid {
        let (v, why) = run(validator, &fence(tag, code));
        assert_eq!(
            v,
            Verdict::Pass,
            "{validator} rejected valid code {code:?}: {why}"
        );
    }
    for (code, line) in broken {
        let (v, why) = run(validator, &fence(tag, code));
        assert_eq!(v, Verdict::Fail, "{validator} accepted {code:?}");
        assert!(
            why.contains(&format!("line {line}")),
            "{validator}: reason for {code:?} should name line {line}: {why}"
        );
    }
}

#[test]
fn python() {
    check_language(
        "python_syntax",
        "python",
        &[
            "import os\n\n\ndef add(a: int, b: int = 2) -> int:\n    \"\"\"Add.\"\"\"\n    return a + b\n\n\nclass A:\n    async def m(self):\n        async with x as y:\n            pass\n        return [i for i in range(3) if i]\n",
            "match cmd:\n    case [\"go\", d]:\n        print(f\"{d!r:>10}\")\n    case _:\n        pass\n",
            "x = (1,\n     2)\ns = '''a\n  b'''\n",
        ],
        &[
            ("def f(x):\n    return (x +\n\nprint(1)\n", 2),
            ("x = 1\ndef f(:\n    pass\n", 2),
            ("def f():\n    x = 1\n      y = 2\n", 3),
            ("def f():\nreturn 1\n", 2),
            ("if True:\n    a = 1\n  b = 2\n", 3),
            ("x = 1\nprint \"hi\"\n", 2),
            ("a = 1\nb = [1, 2,\nc = 3\n", 3),
        ],
    );
}

#[test]
fn javascript() {
    check_language(
        "javascript_syntax",
        "javascript",
        &[
            "export function addItem(items, item) {\n  if (!item?.trim()) throw new Error('empty');\n  return [...items, item.trim()];\n}\n",
            "const App = () => <div className=\"x\">{items.map(i => <p key={i}>{i}</p>)}</div>;\n",
            "class A { #p = 1; static async *gen() { yield await 1; } }\n",
        ],
        &[
            ("function f() {\n  return 1;\n", 2),
            ("const a = 1;\nconst x = ;\n", 2),
            ("let a = [1, 2;\n", 1),
            ("const ok = 1;\nif (x {\n}\n", 2),
        ],
    );
}

#[test]
fn typescript() {
    check_language(
        "typescript_syntax",
        "typescript",
        &[
            "interface Item { name: string; value?: number }\nexport function f<T extends Item>(xs: T[]): T | undefined {\n  return xs.find((x): x is T => x.value !== undefined);\n}\n",
            "type K = keyof typeof obj;\nenum E { A = 1, B }\nconst n = <number>value;\n",
        ],
        &[
            ("function f(x: number): string {\n  return x\n", 2),
            ("let ok = 1;\nlet x: = 5;\n", 2),
            ("interface A {\n  a: number\n  b: \n}\n", 3),
        ],
    );
    // TSX tagged blocks parse with the TSX grammar.
    let (v, why) = run(
        "typescript_syntax",
        &fence(
            "tsx",
            "export const A = (p: {n: number}) => <b>{p.n}</b>;\n",
        ),
    );
    assert_eq!(v, Verdict::Pass, "{why}");
}

#[test]
fn rust() {
    check_language(
        "rust_syntax",
        "rust",
        &[
            "use std::collections::HashMap;\n\n/// Doc\npub fn f<'a, T: Clone>(x: &'a [T]) -> Option<&'a T> {\n    x.first()\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() { assert_eq!(1, 1); }\n}\n",
            "let v: Vec<u8> = vec![1, 2];\nprintln!(\"{v:?}\");\n",
            "async fn g() -> Result<(), Box<dyn std::error::Error>> { let _ = h().await?; Ok(()) }\n",
        ],
        &[
            ("fn main() {\n    let x = 1\n    let y = 2;\n}\n", 3),
            ("fn ok() {}\nstruct A { a: i32,, }\n", 2),
            ("fn main() {\n    let s = \"unterminated;\n}\n", 2),
            ("fn f() -> i32 {\n    1\n}\nfn g( {\n}\n", 4),
        ],
    );
}

#[test]
fn go() {
    check_language(
        "go_syntax",
        "go",
        &[
            "package main\n\nimport (\n\t\"errors\"\n\t\"fmt\"\n)\n\nfunc AddItem(items []string, item string) ([]string, error) {\n\tif item == \"\" {\n\t\treturn items, errors.New(\"empty item\")\n\t}\n\treturn append(items, item), nil\n}\n\nfunc main() { fmt.Println(Map[int](nil)) }\n",
        ],
        &[
            ("package main\n\nfunc main() {\n\tfmt.Println(\"x\"\n}\n", 4),
            ("package main\nfunc main() {\n\tx := \n}\n", 3),
            ("package main\nfunc main( {\n}\n", 2),
        ],
    );
}

#[test]
fn json_toml_yaml() {
    check_language(
        "json_syntax",
        "json",
        &[
            "{\"a\": [1, 2.5, true, null], \"b\": {\"c\": \"d\"}}\n",
            "[]\n",
        ],
        &[
            ("{\n  \"a\": 1,\n}\n", 3),
            ("{\n  \"a\": 1\n  \"b\": 2\n}\n", 3),
            ("{'a': 1}\n", 1),
        ],
    );
    check_language(
        "toml_syntax",
        "toml",
        &[
            "[package]\nname = \"x\"\n\n[dependencies]\nserde = { version = \"1\", features = [\"derive\"] }\n",
        ],
        &[
            ("[a]\nx = 1\n[a]\ny = 2\n", 3),
            ("a = 1\nb = \n", 2),
            ("a = \"unterminated\nb = 1\n", 1),
        ],
    );
    check_language(
        "yaml_syntax",
        "yaml",
        &[
            "name: app\nitems:\n  - a\n  - b: 1\n    c: [1, 2]\n",
            "a: 1\n---\nb: 2\n",
        ],
        &[
            ("a: 1\n b: 2\n", 2),
            ("a:\n  - 1\n  b: 2\n", 3),
            ("a: [1, 2\nc: 3\n", 2),
        ],
    );
}

#[test]
fn extraction_rules() {
    // Several blocks: each is checked, and the reason names the failing block.
    let out = "```python\nx = 1\n```\nthen\n```python\ndef f(:\n    pass\n```\n";
    let (v, why) = run("python_syntax", out);
    assert_eq!(v, Verdict::Fail);
    assert!(
        why.contains("line 1") && why.contains("code block 2"),
        "{why}"
    );
    // No fences: the whole output is the code.
    assert_eq!(run("json_syntax", "{\"a\": 1}").0, Verdict::Pass);
    let (v, why) = run("json_syntax", "{\"items\": [1, 2,, 3]");
    assert_eq!(v, Verdict::Fail);
    assert!(why.contains("line 1"), "{why}");
    // Only other languages fenced: a fail that says so.
    let (v, why) = run("python_syntax", "```bash\nls\n```\n");
    assert_eq!(v, Verdict::Fail);
    assert!(why.contains("bash"), "{why}");
    // Empty code is not a pass.
    assert_eq!(run("rust_syntax", "```rust\n```\n").0, Verdict::Fail);
    // An untagged block is used when no block has the language's tag.
    assert_eq!(run("go_syntax", "```\npackage x\n```").0, Verdict::Pass);
    // Aliases and unknown validators.
    assert_eq!(run("py_syntax", &fence("py", "x = 1\n")).0, Verdict::Pass);
    assert_eq!(run("cobol_syntax", "x").0, Verdict::Skipped);
}

#[test]
fn simulated_provider_outputs() {
    // The simulator's deliverable shape: a `File:` line and a fenced block.
    let good =
        "File: items.py\n```python\ndef add_item(items, item):\n    return items + [item]\n```\n";
    assert_eq!(run("python_syntax", good).0, Verdict::Pass);
    let broken = "File: items.py\n```python\ndef add_item(items, item):\n    return items + [item.strip(]\n```\n";
    let (v, why) = run("python_syntax", broken);
    assert_eq!(v, Verdict::Fail);
    assert!(why.contains("line 2"), "{why}");
}

mod no_panics {
    use super::*;
    use orchestrator_tui::artifacts::{extract_files, path_components};
    use proptest::prelude::*;

    const PIECES: &[&str] = &[
        "```",
        "```python",
        "```py:src/a.py",
        "~~~~",
        "\n",
        "\r\n",
        "File: ",
        "### ",
        "**",
        "`",
        "é",
        "日本",
        "../",
        "/",
        "\\",
        "# path: ",
        "// ",
        "  ",
        "\t",
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        "def f(:",
        ":",
        "'''",
        "\"",
        "'",
        "x = 1",
        "a.py",
        "```json",
        "{\"a\":",
        "---",
        "- ",
        "```rust",
        "fn main() {",
        "```yaml",
        "key: [",
        "```toml",
        "[t]",
        "```go",
        "package p",
    ];

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn validators_and_extraction_never_panic(out in text()) {
            let specs: Vec<ValidatorSpec> = [
                "python_syntax", "javascript_syntax", "typescript_syntax", "rust_syntax",
                "go_syntax", "json_syntax", "json", "toml_syntax", "yaml_syntax", "length",
            ]
            .iter()
            .map(|n| ValidatorSpec::named(n))
            .collect();
            let r = run_all(&specs, &out, &ValidatorsConfig::default());
            prop_assert_eq!(r.len(), specs.len());
            for f in extract_files(&out) {
                let _ = path_components(&f.path);
            }
        }
    }
}
