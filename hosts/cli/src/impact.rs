//! `stepup impact`: load package-impact figures into a running server (a mirror of public
//! download counts, say) and look at the index decisions read.

use serde_json::{Value, json};
use stepup_server::admin_client::{AdminOptions, Method};

use crate::Failure;

/// One imported figure.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    name: String,
    weekly_downloads: u64,
    dependents: u64,
}

/// Reads CSV (a header naming `name`, `weekly_downloads`, `dependents`) or JSON (an array of
/// such objects, or `{"packages": [...]}`); errors name the line or the field.
fn rows(file: &str, text: &str) -> Result<Vec<Row>, Failure> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| Failure::Input(format!("{file}: not JSON: {e}")))?;
        let list = doc.get("packages").cloned().unwrap_or(doc);
        return serde_json::from_value(list).map_err(|e| {
            Failure::Input(format!(
                "{file}: expected [{{\"name\", \"weekly_downloads\", \"dependents\"}}]: {e}"
            ))
        });
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    reader
        .deserialize::<Row>()
        .map(|r| {
            r.map_err(|e| {
                let line = e.position().map_or(0, csv::Position::line);
                Failure::Input(format!("{file}:{line}: {e}"))
            })
        })
        .collect()
}

/// `stepup impact import FILE`.
pub fn import(admin: &AdminOptions, file: &str, replace: bool) -> Result<(), Failure> {
    let text = crate::files::read(file)?;
    let rows = rows(file, &text)?;
    let packages: Vec<Value> = rows
        .iter()
        .map(|r| json!({"name": r.name, "weekly_downloads": r.weekly_downloads, "dependents": r.dependents}))
        .collect();
    let body = json!({"packages": packages, "replace": replace});
    let (status, answer) = admin
        .call(Method::POST, "/v1/admin/impact", Some(&body))
        .map_err(|e| Failure::Io(e.to_string()))?;
    answered(status, &answer)?;
    println!(
        "{file}: {} package figures imported{}",
        rows.len(),
        if replace {
            " (earlier imports dropped)"
        } else {
            ""
        }
    );
    Ok(())
}

/// `stepup impact show [--package P] [--account A]`.
pub fn show(
    admin: &AdminOptions,
    package: Option<&str>,
    account: Option<&str>,
) -> Result<(), Failure> {
    let mut query = Vec::new();
    if let Some(p) = package {
        query.push(format!(
            "package={}",
            stepup_server::upstream::encode_component(p)
        ));
    }
    if let Some(a) = account {
        query.push(format!(
            "account={}",
            stepup_server::upstream::encode_component(a)
        ));
    }
    let path = if query.is_empty() {
        "/v1/admin/impact".to_owned()
    } else {
        format!("/v1/admin/impact?{}", query.join("&"))
    };
    let (status, answer) = admin
        .call(Method::GET, &path, None)
        .map_err(|e| Failure::Io(e.to_string()))?;
    answered(status, &answer)?;
    crate::files::print_json(&answer)
}

pub(crate) fn answered(status: u16, answer: &Value) -> Result<(), Failure> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let why = answer
        .get("error")
        .and_then(Value::as_str)
        .map_or_else(|| answer.to_string(), str::to_owned);
    Err(if status == 400 {
        Failure::Input(why)
    } else {
        Failure::Io(format!("the server answered {status}: {why}"))
    })
}

/// `stepup impact rebuild [--package P]...`: the dependents index re-read from the upstream.
pub fn rebuild(admin: &AdminOptions, packages: &[String]) -> Result<(), Failure> {
    let body = json!({ "packages": packages });
    let (status, answer) = admin
        .call(Method::POST, "/v1/admin/impact/rebuild", Some(&body))
        .map_err(|e| Failure::Io(e.to_string()))?;
    answered(status, &answer)?;
    let count = |k: &str| answer.get(k).and_then(Value::as_array).map_or(0, Vec::len);
    eprintln!(
        "{} package documents read, {} missing upstream, {} unreadable",
        answer.get("read").and_then(Value::as_u64).unwrap_or(0),
        count("missing"),
        count("failed")
    );
    crate::files::print_json(&answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_columns_in_any_order() {
        let r = rows(
            "f.csv",
            "dependents,name,weekly_downloads\n3, left-pad ,1200\n",
        )
        .ok();
        let r = r.as_deref().unwrap_or_default();
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].name.as_str(), r[0].weekly_downloads, r[0].dependents),
            ("left-pad", 1200, 3)
        );
    }

    #[test]
    fn csv_errors_name_the_line() {
        let Err(Failure::Input(m)) = rows(
            "f.csv",
            "name,weekly_downloads,dependents\na,1,2\nb,many,2\n",
        ) else {
            panic!("a bad number is an input error");
        };
        assert!(m.starts_with("f.csv:3:"), "{m}");
    }

    #[test]
    fn json_as_an_array_or_under_packages() {
        for text in [
            r#"[{"name": "a", "weekly_downloads": 1, "dependents": 2}]"#,
            r#"{"packages": [{"name": "a", "weekly_downloads": 1, "dependents": 2}]}"#,
        ] {
            assert_eq!(rows("f.json", text).map(|r| r.len()).ok(), Some(1));
        }
        assert!(matches!(
            rows("f.json", r#"[{"name": "a"}]"#),
            Err(Failure::Input(_))
        ));
    }
}
