//! Template expansion as alert annotations see it: a table of template
//! text → expected output (or error), with `$labels`, `$value`, external
//! labels and URL, and a `query` function over fixed samples.

use std::collections::BTreeMap;
use std::sync::Arc;

use beacon_rules::template::{Expander, QuerySample, Template, Value, str_map};

fn labels() -> BTreeMap<String, String> {
    [
        ("__name__", "up"),
        ("instance", "node-1:9100"),
        ("job", "node"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn fake_query(q: &str) -> Result<Vec<QuerySample>, String> {
    match q {
        "up" => Ok(vec![
            QuerySample {
                labels: [("instance".to_owned(), "b".to_owned())].into(),
                value: 1.0,
            },
            QuerySample {
                labels: [("instance".to_owned(), "a".to_owned())].into(),
                value: 0.0,
            },
        ]),
        "none" => Ok(Vec::new()),
        _ => Err(format!("bad query {q}")),
    }
}

/// Expands `text` with value `value`; errors come back as `ERR: <text>`.
fn expand(text: &str, value: f64) -> String {
    let l = str_map(&labels());
    let ext = str_map(&[("cluster".to_owned(), "eu1".to_owned())].into());
    let url = Value::Str("http://prom.example:9090/prom".into());
    let data = Value::Record(Arc::new(vec![
        ("Labels", l.clone()),
        ("ExternalLabels", ext.clone()),
        ("ExternalURL", url.clone()),
        ("Value", Value::Float(value)),
    ]));
    let ex = Expander {
        data,
        vars: vec![
            ("$labels".into(), l),
            ("$externalLabels".into(), ext),
            ("$externalURL".into(), url),
            ("$value".into(), Value::Float(value)),
        ],
        query: Some(&fake_query),
        external_url: "http://prom.example:9090/prom".into(),
    };
    match Template::parse("__alert_Test", text) {
        Ok(t) => t.execute(&ex).unwrap_or_else(|e| format!("ERR: {e}")),
        Err(e) => format!("ERR: {e}"),
    }
}

fn check(cases: &[(&str, f64, &str)]) {
    let mut failed = Vec::new();
    for (text, value, want) in cases {
        let got = expand(text, *value);
        if got != *want {
            failed.push(format!(
                "{text:?} (value {value}):\n   got {got:?}\n  want {want:?}"
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

#[test]
fn variables_fields_and_text() {
    check(&[
        ("plain text", 0.0, "plain text"),
        ("{{ $labels.instance }} is down", 0.0, "node-1:9100 is down"),
        ("{{ .Labels.job }}/{{ .Value }}", 2.5, "node/2.5"),
        ("{{ $value }}", 1234567.0, "1.234567e+06"),
        ("{{ $value }}", 0.25, "0.25"),
        ("{{ $labels.missing }}|", 0.0, "|"),
        (
            "{{ $externalLabels.cluster }} {{ $externalURL }}",
            0.0,
            "eu1 http://prom.example:9090/prom",
        ),
        ("{{ .ExternalLabels.cluster }}", 0.0, "eu1"),
        ("{{ $x := 5 }}{{ $x }}", 0.0, "5"),
        (
            "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
            0.0,
            "2",
        ),
        ("{{/* a comment */}}ok", 0.0, "ok"),
        ("a  {{- \" b \" -}}  c", 0.0, "a b c"),
        ("x\n  {{- 1 }}\n", 0.0, "x1\n"),
        ("{{ `raw\\n` }}", 0.0, "raw\\n"),
        ("{{ \"q\\t\" }}", 0.0, "q\t"),
    ]);
}

#[test]
fn functions() {
    check(&[
        ("{{ $value | humanize }}", 1234567.0, "1.235M"),
        ("{{ humanize 0.0012 }}", 0.0, "1.2m"),
        ("{{ humanize1024 1048576.0 }}", 0.0, "1Mi"),
        ("{{ $value | humanizeDuration }}", 3725.0, "1h 2m 5s"),
        ("{{ humanizePercentage 0.1234 }}", 0.0, "12.34%"),
        (
            "{{ humanizeTimestamp 1700000000 }}",
            0.0,
            "2023-11-14 22:13:20 +0000 UTC",
        ),
        ("{{ \"42\" | humanize }}", 0.0, "42"),
        ("{{ printf \"%.2f\" $value }}", 2.345678, "2.35"),
        ("{{ printf \"%s=%d %v\" \"a\" 3 true }}", 0.0, "a=3 true"),
        ("{{ printf \"%d\" $value }}", 1.5, "%!d(float64=1.5)"),
        ("{{ toUpper \"abc\" }}{{ toLower \"DEF\" }}", 0.0, "ABCdef"),
        ("{{ title \"hello world\" }}", 0.0, "Hello World"),
        (
            "{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}",
            0.0,
            "node-1",
        ),
        ("{{ match \"^node\" $labels.instance }}", 0.0, "true"),
        (
            "{{ with query \"up\" }}{{ . | first | label \"instance\" }}{{ end }}",
            0.0,
            "b",
        ),
        (
            "{{ range query \"up\" }}{{ .Labels.instance }}={{ .Value }};{{ end }}",
            0.0,
            "b=1;a=0;",
        ),
        (
            "{{ range query \"up\" | sortByLabel \"instance\" }}{{ .Labels.instance }}{{ end }}",
            0.0,
            "ab",
        ),
        ("{{ (query \"up\" | first).Value }}", 0.0, "1"),
        ("{{ query \"up\" | first | value }}", 0.0, "1"),
        (
            "{{ range query \"none\" }}x{{ else }}empty{{ end }}",
            0.0,
            "empty",
        ),
        (
            "{{ with $x := args 1 \"b\" }}{{ $x.arg0 }}{{ .arg1 }}{{ end }}",
            0.0,
            "1b",
        ),
        (
            "{{ len \"abc\" }} {{ index $labels \"job\" }}",
            0.0,
            "3 node",
        ),
        (
            "{{ pathPrefix }} {{ externalURL }}",
            0.0,
            "/prom http://prom.example:9090/prom",
        ),
        ("{{ stripPort $labels.instance }}", 0.0, "node-1"),
        ("{{ print 1 2 \"a\" }}", 0.0, "1 2a"),
        ("{{ urlquery \"a b\" }}", 0.0, "a+b"),
    ]);
}

#[test]
fn control_flow_and_comparisons() {
    check(&[
        (
            "{{ if gt $value 10.0 }}high{{ else }}low{{ end }}",
            11.0,
            "high",
        ),
        (
            "{{ if gt $value 10.0 }}high{{ else }}low{{ end }}",
            9.0,
            "low",
        ),
        ("{{ if eq $labels.job \"node\" \"x\" }}y{{ end }}", 0.0, "y"),
        ("{{ if ne 1 2 }}y{{ end }}", 0.0, "y"),
        ("{{ if and (lt 1 2) (le 2 2) }}y{{ end }}", 0.0, "y"),
        ("{{ if or false \"\" }}y{{ else }}n{{ end }}", 0.0, "n"),
        ("{{ if not false }}y{{ end }}", 0.0, "y"),
        (
            "{{ if ge 1 2 }}a{{ else if eq 1 1 }}b{{ else }}c{{ end }}",
            0.0,
            "b",
        ),
        (
            "{{ range $i, $v := args \"x\" \"y\" }}{{ $i }}:{{ $v }} {{ end }}",
            0.0,
            "arg0:x arg1:y ",
        ),
        (
            "{{ range $k, $v := $labels }}{{ $k }}={{ $v }},{{ end }}",
            0.0,
            "__name__=up,instance=node-1:9100,job=node,",
        ),
        (
            "{{ with $labels.missing }}set{{ else }}unset{{ end }}",
            0.0,
            "unset",
        ),
        ("{{ and 1 0 }} {{ or 0 2 }}", 0.0, "0 2"),
        (
            "{{ if and $labels.missing (gt $labels.missing.x 1.0) }}y{{ else }}n{{ end }}",
            0.0,
            "n",
        ),
        ("{{ or $labels.missing \"default\" }}", 0.0, "default"),
    ]);
}

#[test]
fn errors() {
    check(&[
        (
            "{{ nosuch 1 }}",
            0.0,
            "ERR: template: __alert_Test:1: function \"nosuch\" not defined",
        ),
        (
            "{{ define \"x\" }}{{ end }}",
            0.0,
            "ERR: template: __alert_Test:1: \"define\" is not supported in Beacon's templates",
        ),
        (
            "{{ template \"x\" }}",
            0.0,
            "ERR: template: __alert_Test:1: \"template\" is not supported in Beacon's templates",
        ),
        (
            "{{ if true }}x",
            0.0,
            "ERR: template: __alert_Test:1: unexpected EOF in if",
        ),
        (
            "{{ end }}",
            0.0,
            "ERR: template: __alert_Test:1: unexpected {{end}}",
        ),
        (
            "a\n{{ $labels.job",
            0.0,
            "ERR: template: __alert_Test:2: unclosed action",
        ),
        (
            "{{ \"abc }}",
            0.0,
            "ERR: template: __alert_Test:1: unterminated quoted string",
        ),
        (
            "{{ gt $value 10 }}",
            1.0,
            "ERR: template: __alert_Test:1: executing \"__alert_Test\": error calling gt: incompatible types for comparison",
        ),
        (
            "{{ query \"bad\" }}",
            0.0,
            "ERR: template: __alert_Test:1: executing \"__alert_Test\": error calling query: bad query bad",
        ),
        (
            "{{ query \"none\" | first }}",
            0.0,
            "ERR: template: __alert_Test:1: executing \"__alert_Test\": error calling first: first() called on vector with no elements",
        ),
        (
            "{{ .Nope }}",
            0.0,
            "ERR: template: __alert_Test:1: executing \"__alert_Test\": can't evaluate field Nope in type struct",
        ),
        (
            "{{ $undefined }}",
            0.0,
            "ERR: template: __alert_Test:1: executing \"__alert_Test\": undefined variable: $undefined",
        ),
        (
            "{{ reReplaceAll \"(\" \"\" \"x\" }}",
            0.0,
            "ERR: template: __alert_Test:1: executing \"__alert_Test\": error calling reReplaceAll: regexp: Compile(\"(\"): regex parse error:\n    (\n    ^\nerror: unclosed group",
        ),
    ]);
}

#[test]
fn random_templates_never_panic() {
    // A fixed linear congruential generator: reproducible, no dependency.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let alphabet: Vec<char> = "{}-$.()|\"`' :=abcdefgiklnoprstuvwxyzLV0123456789_\n\\%/*"
        .chars()
        .collect();
    for _ in 0..3000 {
        let len = (state >> 60) as usize + 3;
        let text: String = (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                alphabet[(state >> 33) as usize % alphabet.len()]
            })
            .collect();
        let _ = expand(&text, 1.0);
        let _ = expand(&format!("{{{{ {text} }}}}"), 1.0);
    }
    assert_eq!(expand("{{ printf \"%99999999999d|\" 1 }}", 0.0).len(), 1025);
}

#[test]
fn parsing_never_panics_on_garbage() {
    let pieces = [
        "{{", "}}", "{{-", "-}}", "$", ".", "(", ")", "|", "\"", "`", "if", "end", "else", "range",
        ":=", "=", "1e", "'", "/*", "*/", " ", "x", "\n",
    ];
    // Every pair and triple of pieces: a cheap exhaustive fuzz of the lexer.
    for a in pieces {
        for b in pieces {
            for c in pieces {
                let text = format!("{a}{b}{c}");
                let _ = Template::parse("fuzz", &text);
                let _ = Template::parse("fuzz", &format!("{{{{{text}}}}}"));
            }
        }
    }
}
