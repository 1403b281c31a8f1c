//! Table-driven tests for relabelling: every action, its defaults, Go-style
//! template expansion and the validation rules, through one `check` helper.

use beacon_model::{Labels, NameValidation};

use super::*;
use crate::yaml::{self, Cx};

fn cx() -> Cx {
    Cx {
        origin: "rules.yml".to_owned(),
        dir: None,
    }
}

fn rules(text: &str) -> crate::Result<Vec<RelabelConfig>> {
    let node = yaml::parse(text, "rules.yml")?;
    Vec::<RelabelConfig>::decode(&node, &cx())
}

fn labels(s: &str) -> Labels {
    let pairs: Vec<(&str, &str)> = s
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').expect("name=value"))
        .collect();
    Labels::from_pairs(pairs)
}

/// Relabels `input` (`a=1,b=2`) with the YAML `rules`; `expected` is the
/// result in the same notation, or `None` when the set must be dropped.
fn check(input: &str, rules_yaml: &str, expected: Option<&str>) {
    let cfgs = rules(rules_yaml).unwrap_or_else(|e| panic!("{rules_yaml}: {e}"));
    let got = process(&labels(input), &cfgs);
    assert_eq!(
        got,
        expected.map(labels),
        "input {input}\nrules:\n{rules_yaml}"
    );
}

/// Like `check`, with the rules validated under legacy label names.
fn check_legacy(input: &str, rules_yaml: &str, expected: Option<&str>) {
    let mut cfgs = rules(rules_yaml).unwrap();
    for c in &mut cfgs {
        c.check(NameValidation::Legacy).unwrap();
        c.name_validation = NameValidation::Legacy;
    }
    assert_eq!(
        process(&labels(input), &cfgs),
        expected.map(labels),
        "{rules_yaml}"
    );
}

/// Loading `rules_yaml` must fail with `msg` at `line:col`.
fn check_err(rules_yaml: &str, at: (u32, u32), msg: &str) {
    let err = rules(rules_yaml).expect_err(rules_yaml);
    assert_eq!(err.position(), Some(at), "{err}");
    assert!(err.to_string().contains(msg), "{err}\nwanted: {msg}");
}

const ABC: &str = "a=foo,b=bar,c=baz";

#[test]
fn replace() {
    check(
        ABC,
        "- {source_labels: [a], regex: f(.*), target_label: d, replacement: 'ch${1}-ch${1}'}",
        Some("a=foo,b=bar,c=baz,d=choo-choo"),
    );
    check(
        ABC,
        "- {source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, replacement: '${1}${2}'}\n\
         - {source_labels: [c, a], regex: '(b).*', target_label: d, replacement: $1}",
        Some("a=ooba,b=bar,c=baz,d=b"),
    );
    // No match: nothing changes.
    check(
        ABC,
        "- {source_labels: [a], regex: x(.*), target_label: a, replacement: y}",
        Some(ABC),
    );
    // An empty result deletes the target label.
    check(
        ABC,
        "- {source_labels: [a], target_label: b, replacement: ''}",
        Some("a=foo,c=baz"),
    );
    // Defaults: regex (.*), replacement $1, separator ;.
    check(
        "a=x,b=y",
        "- {source_labels: [a, b], target_label: c}",
        Some("a=x,b=y,c=x;y"),
    );
    check(
        "a=x",
        "- {source_labels: [a, b], separator: '', target_label: c}",
        Some("a=x,c=x"),
    );
    // Constant labels take Prometheus's fast path.
    check(
        "a=x",
        "- {target_label: env, replacement: prod}",
        Some("a=x,env=prod"),
    );
    check(
        "a=x,env=dev",
        "- {target_label: env, replacement: $1}",
        Some("a=x"),
    );
    // Target label built from capture groups.
    check(
        "a=some-name-value",
        "- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', target_label: '${1}', replacement: '${2}'}",
        Some("a=some-name-value,name=value"),
    );
    // The metric name is a label like any other.
    check(
        "__name__=up,a=x",
        "- {source_labels: [a], target_label: __name__}",
        Some("__name__=x,a=x"),
    );
    // `.` matches newlines, as in Prometheus 3.
    check(
        "a=x\ny",
        "- {source_labels: [a], regex: 'x.y', target_label: b, replacement: ok}",
        Some("a=x\ny,b=ok"),
    );
    // Action names ignore case.
    check(
        "a=x",
        "- {source_labels: [a], target_label: b, action: Replace}",
        Some("a=x,b=x"),
    );
}

#[test]
fn template_expansion_is_gos() {
    let re = beacon_model::regex::compile_anchored("f(?P<name>(o)o)").unwrap();
    let caps = re.captures("foo").unwrap();
    // Checked by hand against Go: group 1 = "oo", group 2 = "o", name = "oo".
    for (template, want) in [
        ("$1", "oo"),
        ("${1}x", "oox"),
        ("$1x", ""),
        ("$$1", "$1"),
        ("$", "$"),
        ("${1", "${1"),
        ("${}", "${}"),
        ("$name", "oo"),
        ("${name}!", "oo!"),
        ("$missing-", "-"),
        ("$01", ""),
        ("$2$1", "ooo"),
        ("a$9b", "a"),
        ("$0", "foo"),
    ] {
        let mut out = String::new();
        expand(&re, &caps, template, &mut out);
        assert_eq!(out, want, "template {template:?}");
    }
}

#[test]
fn invalid_target_after_expansion_changes_nothing() {
    // UTF-8 names (Prometheus 3's default): only an empty name is invalid.
    check(
        "a=",
        "- {source_labels: [a], regex: '(.*)', target_label: '$1', replacement: v}",
        Some(""),
    );
    check(
        "a=my.label",
        "- {source_labels: [a], target_label: '$1', replacement: v}",
        Some("a=my.label,my.label=v"),
    );
    // Legacy names: `1abc` or `my.label` are not label names.
    check_legacy(
        "a=1abc",
        "- {source_labels: [a], target_label: '${1}', replacement: v}",
        Some("a=1abc"),
    );
    check_legacy(
        "a=my.label",
        "- {source_labels: [a], target_label: '$1', replacement: v}",
        Some("a=my.label"),
    );
    check_legacy(
        "a=ok",
        "- {source_labels: [a], target_label: 'x_$1', replacement: v}",
        Some("a=ok,x_ok=v"),
    );
}

#[test]
fn keep_and_drop() {
    check(
        ABC,
        "- {source_labels: [a], regex: 'f.*', action: drop}",
        None,
    );
    check(
        ABC,
        "- {source_labels: [a], regex: 'x.*', action: drop}",
        Some(ABC),
    );
    check(
        ABC,
        "- {source_labels: [a], regex: 'f.*', action: keep}",
        Some(ABC),
    );
    check(
        ABC,
        "- {source_labels: [a], regex: 'x.*', action: keep}",
        None,
    );
    // A missing label is the empty string.
    check(
        ABC,
        "- {source_labels: [missing], regex: '', action: keep}",
        Some(ABC),
    );
    check(
        ABC,
        "- {source_labels: [missing], regex: '.+', action: keep}",
        None,
    );
    check(
        ABC,
        "- {source_labels: [a, missing], regex: 'foo;', action: keep}",
        Some(ABC),
    );
    // No source labels: the joined value is empty.
    check(ABC, "- {action: drop, regex: ''}", None);
    // The regex is anchored at both ends.
    check(
        ABC,
        "- {source_labels: [a], regex: 'o', action: drop}",
        Some(ABC),
    );
    check(
        ABC,
        "- {source_labels: [a], regex: 'f.*', action: KEEP}",
        Some(ABC),
    );
}

#[test]
fn keepequal_and_dropequal() {
    check(
        "a=x,b=x",
        "- {source_labels: [a], target_label: b, action: keepequal}",
        Some("a=x,b=x"),
    );
    check(
        "a=x,b=y",
        "- {source_labels: [a], target_label: b, action: keepequal}",
        None,
    );
    check(
        "a=x,b=x",
        "- {source_labels: [a], target_label: b, action: dropequal}",
        None,
    );
    check(
        "a=x,b=y",
        "- {source_labels: [a], target_label: b, action: dropequal}",
        Some("a=x,b=y"),
    );
    check(
        "a=x",
        "- {source_labels: [a, c], target_label: b, action: keepequal}",
        None,
    );
    check(
        "b=x;",
        "- {source_labels: [a, c], target_label: b, action: keepequal}",
        None,
    );
    check(
        "a=x,b=x;",
        "- {source_labels: [a, c], target_label: b, action: keepequal}",
        Some("a=x,b=x;"),
    );
}

#[test]
fn hashmod() {
    // md5("baz"), low 8 bytes big-endian, mod 1000 (Prometheus's own test value).
    check(
        ABC,
        "- {source_labels: [c], target_label: d, modulus: 1000, action: hashmod}",
        Some("a=foo,b=bar,c=baz,d=976"),
    );
    check(
        ABC,
        "- {source_labels: [a, b], target_label: d, modulus: 7, action: hashmod}",
        Some("a=foo,b=bar,c=baz,d=6"),
    );
    check(
        "x=1",
        "- {source_labels: [a], target_label: d, modulus: 1000, action: hashmod}",
        Some("x=1,d=958"),
    );
}

#[test]
fn labelmap_labeldrop_labelkeep() {
    check(
        "__meta_kubernetes_pod_label_app=web,__meta_x=1,job=j",
        "- {regex: '__meta_kubernetes_pod_label_(.+)', action: labelmap}",
        Some("__meta_kubernetes_pod_label_app=web,__meta_x=1,app=web,job=j"),
    );
    check(
        ABC,
        "- {regex: '(b.*)', replacement: 'new_${1}', action: labelmap}",
        Some("a=foo,b=bar,c=baz,new_b=bar"),
    );
    check(
        ABC,
        "- {regex: '(.*)', replacement: '$2', action: labelmap}",
        Some(ABC),
    );
    check(ABC, "- {regex: 'b|c', action: labeldrop}", Some("a=foo"));
    check(
        ABC,
        "- {regex: 'a|b', action: labelkeep}",
        Some("a=foo,b=bar"),
    );
    check(ABC, "- {regex: '.*', action: labeldrop}", Some(""));
    check(ABC, "- {regex: 'x', action: labeldrop}", Some(ABC));
}

#[test]
fn lowercase_uppercase() {
    check(
        "a=FooBar",
        "- {source_labels: [a], target_label: l, action: lowercase}",
        Some("a=FooBar,l=foobar"),
    );
    check(
        "a=FooBar,b=ä",
        "- {source_labels: [a, b], target_label: u, action: uppercase}",
        Some("a=FooBar,b=ä,u=FOOBAR;Ä"),
    );
    check(
        "l=x",
        "- {source_labels: [missing], target_label: l, action: lowercase}",
        Some(""),
    );
    // One character in, one out, as Go maps them.
    let lower = "- {source_labels: [a], target_label: l, action: lowercase}";
    check("a=İx", lower, Some("a=İx,l=ix"));
    let upper = "- {source_labels: [a], target_label: u, action: uppercase}";
    check("a=ßx", upper, Some("a=ßx,u=ßX"));
}

#[test]
fn rules_apply_in_order_and_see_earlier_changes() {
    check(
        "a=foo",
        "- {source_labels: [a], target_label: b}\n- {source_labels: [b], regex: foo, action: drop}",
        None,
    );
    check(
        "a=foo",
        "- {regex: a, action: labeldrop}\n- {target_label: a, replacement: new}",
        Some("a=new"),
    );
    check("", "", Some(""));
}

#[test]
fn defaults_are_prometheus() {
    let c = &rules("- {}").unwrap_err();
    assert!(c.to_string().contains("requires 'target_label'"), "{c}");
    let c = &rules("- {target_label: x}").unwrap()[0];
    assert_eq!(c.separator, ";");
    assert_eq!(c.regex.as_str(), "(.*)");
    assert_eq!(c.replacement, "$1");
    assert_eq!(c.action, Action::Replace);
    assert_eq!(c.modulus, 0);
}

#[test]
fn validation_errors() {
    check_err(
        "- {action: hashmod, target_label: x}",
        (1, 3),
        "hashmod requires non-zero modulus",
    );
    check_err(
        "- {source_labels: [a]}",
        (1, 3),
        "replace action requires 'target_label' value",
    );
    check_err(
        "- {action: lowercase}",
        (1, 3),
        "lowercase action requires 'target_label'",
    );
    check_err(
        "- {action: bogus}",
        (1, 12),
        "unknown relabel action \"bogus\"",
    );
    check_err(
        "- {regex: '(', target_label: x}",
        (1, 11),
        "invalid regular expression",
    );
    check_err(
        "- {action: keepequal, target_label: x, regex: a}",
        (1, 3),
        "keepequal action requires only 'source_labels'",
    );
    check_err(
        "- {action: labeldrop, source_labels: []}",
        (1, 3),
        "labeldrop action requires only 'regex'",
    );
    check_err(
        "- {action: labelkeep, target_label: x}",
        (1, 3),
        "labelkeep action requires only 'regex'",
    );
    check_err(
        "- {action: uppercase, target_label: x, replacement: y}",
        (1, 3),
        "'replacement' can not be set for uppercase",
    );
    check_err(
        "- {action: labelmap, replacement: ''}",
        (1, 3),
        "\"\" is invalid 'replacement' for labelmap",
    );
    check_err(
        "- {target_label: x, modulus: -1}",
        (1, 30),
        "cannot unmarshal an integer \"-1\" into an unsigned integer",
    );
    check_err(
        "- {target_label: x, bogus: 1}",
        (1, 21),
        "field bogus not found in relabel config",
    );
    check_err(
        "-\n  target_label: x\n  source_labels: a\n",
        (3, 18),
        "cannot unmarshal a string \"a\" into a sequence",
    );
}

#[test]
fn legacy_name_checks() {
    let c = &rules("- {target_label: 'my.label'}").unwrap()[0];
    assert!(c.check(NameValidation::Utf8).is_ok());
    assert_eq!(
        c.check(NameValidation::Legacy).unwrap_err(),
        "\"my.label\" is invalid 'target_label' for replace action"
    );
    for (t, ok) in [
        ("${1}", true),
        ("a_$1", true),
        ("$1x", true),
        ("1$a", false),
        ("a-$1", false),
        ("${a", false),
        ("$", false),
    ] {
        let c = &rules(&format!("- {{target_label: '{t}'}}")).unwrap()[0];
        assert_eq!(c.check(NameValidation::Legacy).is_ok(), ok, "{t}");
    }
}

#[test]
fn unchanged_labels_are_shared_not_copied() {
    let input = labels(ABC);
    let cfgs = rules(
        "- {source_labels: [a], regex: 'f.*', action: keep}\n- {target_label: a, replacement: foo}",
    )
    .unwrap();
    let out = process(&input, &cfgs).unwrap();
    assert_eq!(out.as_bytes().as_ptr(), input.as_bytes().as_ptr());
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    const ACTIONS: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any rule, validated or not, on any labels: no panic, and the
        /// result is a proper label set.
        #[test]
        fn process_never_panics(
            values in proptest::collection::vec("\\PC{0,6}", 3),
            action in 0usize..ACTIONS.len(),
            pattern in "[ab.*()$|?]{0,6}",
            target in "[ab_$1{}]{0,5}",
            replacement in "[ab_$1{}]{0,5}",
            modulus in 0u64..5,
        ) {
            let Ok(regex) = Regex::new(&pattern) else { return Ok(()) };
            let c = RelabelConfig {
                source_labels: vec!["a".into(), "b".into()],
                action: ACTIONS[action],
                regex,
                target_label: target,
                replacement,
                modulus,
                ..RelabelConfig::default()
            };
            let input = Labels::from_pairs([("a", &*values[0]), ("b", &*values[1]), ("c", &*values[2])]);
            if let Some(out) = process(&input, &[c.clone(), c]) {
                prop_assert!(out.iter().all(|l| !l.value.is_empty()));
            }
        }

        #[test]
        fn hashmod_stays_below_modulus(value in "\\PC{0,12}", modulus in 1u64..1000) {
            let c = RelabelConfig {
                source_labels: vec!["a".into()],
                action: Action::HashMod,
                target_label: "h".into(),
                modulus,
                ..RelabelConfig::default()
            };
            let out = process(&Labels::from_pairs([("a", value.as_str())]), &[c]).unwrap();
            let h: u64 = out.get("h").unwrap().parse().unwrap();
            prop_assert!(h < modulus);
        }
    }
}
