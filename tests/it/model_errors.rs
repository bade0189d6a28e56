//! Bad model files: each error names the place (line:column) and the problem.

use spikeq::spec::parse_model;

const GOOD: &str = r#"
[simulation]
duration = "100 ms"

[[population]]
name = "A"
size = 10
model = "lif_delta"
tau_m = "20 ms"
v_rest = "0 mV"
v_reset = "10 mV"
v_th = "20 mV"

[[projection]]
from = "A"
to = "A"
rule = "fixed_probability"
p = 0.5
weight = "0.1 mV"
delay = "1 ms"
"#;

/// Replaces `from` in the good file by `to` and expects an error at `line` containing `msg`.
fn expect_error(from: &str, to: &str, line: usize, msg: &str) {
    assert!(GOOD.contains(from), "test setup: `{from}` not in the model");
    let text = GOOD.replacen(from, to, 1);
    let e = parse_model(&text, "bad.toml").expect_err(&format!("`{to}` must be rejected"));
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("bad.toml:{line}:")),
        "wrong place: {shown}"
    );
    assert!(shown.contains(msg), "wrong message: {shown}");
}

#[test]
fn the_good_model_parses() {
    let m = parse_model(GOOD, "good.toml").unwrap();
    assert_eq!(m.network.populations.len(), 1);
    assert_eq!(m.duration.as_ms(), 100.0);
}

#[test]
fn unknown_key() {
    expect_error(
        "v_th = \"20 mV\"",
        "v_th = \"20 mV\"\nv_treshold = \"1 mV\"",
        13,
        "unknown field `v_treshold`",
    );
}

#[test]
fn unknown_population() {
    expect_error("to = \"A\"", "to = \"B\"", 16, "unknown population `B`");
}

#[test]
fn zero_and_negative_delay() {
    expect_error(
        "delay = \"1 ms\"",
        "delay = \"0 ms\"",
        20,
        "at least one tick",
    );
    expect_error(
        "delay = \"1 ms\"",
        "delay = \"-2 ms\"",
        20,
        "at least one tick",
    );
    expect_error(
        "delay = \"1 ms\"",
        "delay = { normal = { mean = \"1 ms\", std = \"0.2 ms\" } }",
        20,
        "give a normal distribution a `min`",
    );
}

#[test]
fn probability_outside_unit_interval() {
    expect_error(
        "p = 0.5",
        "p = 1.5",
        18,
        "probability 1.5 is outside [0, 1]",
    );
}

#[test]
fn negative_time_constant() {
    expect_error(
        "tau_m = \"20 ms\"",
        "tau_m = \"-20 ms\"",
        9,
        "tau_m must be positive",
    );
}

#[test]
fn wrong_and_missing_units() {
    expect_error(
        "tau_m = \"20 ms\"",
        "tau_m = \"20 mV\"",
        9,
        "unknown unit `mV` for a time",
    );
    expect_error("tau_m = \"20 ms\"", "tau_m = 20", 9, "write the unit");
}

#[test]
fn parameter_of_another_model() {
    expect_error(
        "v_th = \"20 mV\"",
        "v_th = \"20 mV\"\ntau_syn_ex = \"2 ms\"",
        13,
        "`tau_syn_ex` is not a parameter of model `lif_delta`",
    );
}

#[test]
fn missing_parameter_and_unknown_model() {
    expect_error("v_th = \"20 mV\"\n", "", 8, "needs `v_th`");
    expect_error(
        "model = \"lif_delta\"",
        "model = \"lif_deltaa\"",
        8,
        "unknown model `lif_deltaa`",
    );
}

#[test]
fn rule_parameters_must_match_the_rule() {
    expect_error(
        "p = 0.5",
        "indegree = 3",
        18,
        "`indegree` does not apply to rule `fixed_probability`",
    );
    expect_error(
        "rule = \"fixed_probability\"",
        "rule = \"fixed_indegree\"",
        18,
        "`p` does not apply",
    );
}

#[test]
fn reset_above_threshold_and_duplicate_names() {
    expect_error(
        "v_reset = \"10 mV\"",
        "v_reset = \"30 mV\"",
        8,
        "must be below v_th",
    );
    let twice = GOOD.replacen("[[projection]]", "[[population]]\nname = \"A\"\nsize = 1\nmodel = \"poisson\"\nrate = \"1 Hz\"\n\n[[projection]]", 1);
    let e = parse_model(&twice, "dup.toml").unwrap_err();
    assert!(
        e.to_string().starts_with("dup.toml:15:") && e.to_string().contains("already exists"),
        "{e}"
    );
}

#[test]
fn toml_syntax_error_has_a_position() {
    let e = parse_model("[[population]\nname = 1", "syntax.toml").unwrap_err();
    assert!(e.to_string().starts_with("syntax.toml:1:"), "{e}");
}

#[test]
fn every_shipped_model_checks() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/models");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            spikeq::spec::load_model(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 1);
}

/// The `spec_parse` fuzz corpus, on stable: `seed-*` files must parse, `hostile-*` must be
/// refused, and nothing may panic.
#[test]
fn spec_parse_fuzz_corpus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/spec_parse");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir} is missing: {e}")) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let accepted = spikeq::spec::fuzz_check::spec_parse(&std::fs::read(&path).unwrap());
        if name.starts_with("seed-") {
            assert!(accepted, "{name} must parse");
        } else if name.starts_with("hostile-") {
            assert!(!accepted, "{name} must be refused");
        }
        n += 1;
    }
    assert!(n >= 6, "corpus has only {n} files");
}

#[test]
fn a_network_too_large_to_address_is_refused_before_allocating() {
    let text = GOOD
        .replace("size = 10", "size = 4000000000")
        .replace("p = 0.5", "p = 1.0");
    let m = parse_model(&text, "huge.toml").unwrap();
    let e = m.network.build(1).unwrap_err();
    assert!(
        e.to_string()
            .contains("synapses (at most 4294967295 are addressable)"),
        "{e}"
    );
}

#[test]
fn build_errors_point_at_their_projection() {
    let text = GOOD.replace(
        "rule = \"fixed_probability\"\np = 0.5",
        "rule = \"fixed_indegree\"\nindegree = 11\nmultapses = false",
    );
    let m = parse_model(&text, "deg.toml").unwrap();
    let e = m.build(1).unwrap_err().to_string();
    assert!(
        e.starts_with("deg.toml:15:") && e.contains("degree 11 exceeds the 9 distinct partners"),
        "{e}"
    );
}

const PLASTIC: &str = r#"delay = "1 ms"
plasticity = { rule = "stdp_pair", tau_plus = "20 ms", tau_minus = "20 ms", a_plus = "0.001 mV", a_minus = "0.001 mV", w_max = "1 mV" }"#;

#[test]
fn plasticity_tables_parse() {
    let text = GOOD.replacen("delay = \"1 ms\"", PLASTIC, 1);
    let m = parse_model(&text, "good.toml").unwrap();
    let p = m.network.projections[0].plasticity.unwrap();
    assert_eq!(
        (p.tau_plus_ms, p.a_minus, p.w_min, p.w_max),
        (20.0, 0.001, 0.0, 1.0)
    );
}

#[test]
fn plasticity_errors_name_the_key() {
    let with =
        |from: &str, to: &str| GOOD.replacen("delay = \"1 ms\"", &PLASTIC.replacen(from, to, 1), 1);
    let cases = [
        (
            "stdp_pair",
            "stdp_quad",
            "unknown plasticity rule `stdp_quad`",
        ),
        ("tau_plus = \"20 ms\", ", "", "needs `tau_plus`"),
        (
            "a_plus = \"0.001 mV\"",
            "a_plus = \"0.001 gL\"",
            "a_plus: unknown unit",
        ),
        (
            "w_max = \"1 mV\"",
            "w_max = \"1 mV\", pairing = \"closest\"",
            "unknown pairing `closest`",
        ),
        (
            "w_max = \"1 mV\"",
            "w_max = \"1 mV\", a3_plus = \"1 mV\"",
            "belongs to rule `stdp_triplet`",
        ),
        (
            "w_max = \"1 mV\"",
            "w_max = \"-1 mV\"",
            "w_min (0) must not exceed w_max (-1)",
        ),
        (
            "tau_minus = \"20 ms\"",
            "tau_minus = \"0 ms\"",
            "tau_minus must be a positive time",
        ),
        (
            "w_max = \"1 mV\"",
            "w_max = \"1 mV\", weight_dependence = \"soft\"",
            "weight_dependence",
        ),
    ];
    for (from, to, msg) in cases {
        let e = parse_model(&with(from, to), "bad.toml")
            .expect_err(to)
            .to_string();
        assert!(e.starts_with("bad.toml:"), "no place: {e}");
        assert!(e.contains(msg), "`{to}`: {e}");
    }
    let e = parse_model(
        &GOOD.replacen(
            "delay = \"1 ms\"",
            "delay = \"1 ms\"\nrecord_weights = \"1 s\"",
            1,
        ),
        "bad.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("only plastic projections"), "{e}");
}

#[test]
fn reward_projections_name_their_plastic_projection() {
    let plastic = GOOD.replacen(
        "delay = \"1 ms\"",
        &PLASTIC.replacen(
            "w_max = \"1 mV\"",
            "w_max = \"1 mV\", reward = { tau_c = \"1 s\" }",
            1,
        ),
        1,
    );
    let reward = |from: &str, weight: &str| {
        format!(
            "{plastic}\n[[population]]\nname = \"D\"\nsize = 1\nmodel = \"regular\"\nperiod = \"100 ms\"\n\n[[projection]]\nfrom = \"D\"\nto = \"A\"\nreward_for = \"{from}\"\nrule = \"all_to_all\"\nweight = {weight}\ndelay = \"1 ms\"\n"
        )
    };
    let m = parse_model(&reward("A", "2.5"), "good.toml").unwrap();
    assert_eq!(m.network.projections[1].reward_for, Some(0));
    assert_eq!(
        m.network.projections[1].weight_mv,
        spikeq::network::Dist::Const(2.5)
    );
    let e = parse_model(&reward("B", "1.0"), "bad.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no plastic projection from `B` to `A`"), "{e}");
    let e = parse_model(&reward("A", "\"1 mV\""), "bad.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("reward per spike, a plain number"), "{e}");
}
