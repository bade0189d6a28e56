//! Replaying trace files into networks: record-then-replay equivalence, the replay options
//! against hand-computed times, and model-file errors about replays.

use crate::{ms, run_spikes};
use spikeq::network::{ConnectRule, Dist, NetworkBuilder, NeuronKind, PopulationId};
use spikeq::neuron::LifParams;
use spikeq::record::Tee;
use spikeq::spec::{load_model, parse_model};
use spikeq::trace::replay::{ReplayOptions, load_replay};
use spikeq::trace::{RecordingHeader, SpkHeader, SpkWriter, TraceFormat, open_recording};
use spikeq::{Spike, Tick};
use std::path::{Path, PathBuf};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spikeq-it-replay-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn lif(v_th_mv: f64) -> NeuronKind {
    NeuronKind::LifDelta(LifParams {
        tau_m_ms: 10.0,
        v_rest_mv: 0.0,
        v_reset_mv: 0.0,
        v_th_mv,
        t_ref: ms(2.0),
    })
}

const A_SIZE: u32 = 30;
const B_SIZE: u32 = 20;

/// The A → B synapses, in population-local indices: two projections with different delays
/// and signs (the same in both setups).
fn connect_a_to_b(b: &mut NetworkBuilder, a: PopulationId, target: PopulationId) {
    let excitatory: Vec<(u32, u32)> = (0..A_SIZE)
        .flat_map(|i| [(i, i % B_SIZE), (i, (i * 7 + 3) % B_SIZE)])
        .collect();
    let inhibitory: Vec<(u32, u32)> = (0..A_SIZE).map(|i| (i, (i * 3 + 1) % B_SIZE)).collect();
    b.connect(
        a,
        target,
        ConnectRule::List(excitatory),
        Dist::Const(3.5),
        Dist::Const(1.5),
    );
    b.connect(
        a,
        target,
        ConnectRule::List(inhibitory),
        Dist::Const(-2.0),
        Dist::Const(2.25),
    );
}

/// B: leaky neurons with a constant subthreshold bias (no random initial values or drives, so
/// nothing depends on B's position in the network).
fn add_b(b: &mut NetworkBuilder) -> PopulationId {
    let pop = b.population("B", B_SIZE, lif(10.0));
    b.bias(pop, Dist::Const(6.0));
    pop
}

#[test]
fn recorded_then_replayed_input_gives_bit_identical_output() {
    let dir = temp_dir("equivalence");
    let t_end = ms(500.0);

    // Setup 1: Poisson P → A (LIF, recurrent through P's randomness) → B.
    let mut one = NetworkBuilder::new();
    let p = one.population(
        "P",
        40,
        NeuronKind::Poisson {
            rate_hz: 150.0,
            start: Tick::ZERO,
            stop: Tick::MAX,
        },
    );
    let a = one.population("A", A_SIZE, lif(12.0));
    one.connect(
        p,
        a,
        ConnectRule::FixedIndegree(8),
        Dist::Uniform {
            low: 2.0,
            high: 5.0,
        },
        Dist::Const(1.0),
    );
    let b1 = add_b(&mut one);
    connect_a_to_b(&mut one, a, b1);
    let net = one.build(3).unwrap();
    let a_ids = net.populations[a].ids();
    let b1_ids = net.populations[b1].ids();
    assert_eq!((a_ids.clone(), b1_ids.clone()), (40..70, 70..90));

    // Run setup 1, recording everything to .spk through the writer thread.
    let path = dir.join("a.spk");
    let mut recording = open_recording(
        &path,
        &RecordingHeader {
            model: "setup one".into(),
            seed: 3,
            duration: t_end,
            channel_count: net.num_neurons(),
        },
    )
    .unwrap();
    let mut direct = Vec::new();
    let mut sim = spikeq::engine::Simulation::new(net, 3).unwrap();
    sim.run_until(t_end, &mut Tee(&mut direct, &mut recording))
        .unwrap();
    assert_eq!(recording.finish().unwrap(), direct.len() as u64);

    let a_spikes = direct.iter().filter(|s| a_ids.contains(&s.neuron)).count();
    let b_direct: Vec<Spike> = direct
        .iter()
        .filter(|s| b1_ids.contains(&s.neuron))
        .map(|s| Spike {
            tick: s.tick,
            neuron: s.neuron - b1_ids.start,
        })
        .collect();
    assert!(a_spikes > 500, "A must be active: {a_spikes} spikes");
    assert!(
        b_direct.len() > 100,
        "B must fire: {} spikes",
        b_direct.len()
    );

    // Setup 2: B first (ids 0..20), then A's recorded spikes replayed (channels 40..70 of the
    // file become neurons 0..30 of the replay population, ids 20..50).
    let mut options = ReplayOptions::new(A_SIZE);
    options.channels = Some(a_ids.clone().collect());
    let loaded = load_replay(&path, &options).unwrap();
    assert_eq!(loaded.spikes, a_spikes as u64);
    let mut two = NetworkBuilder::new();
    let b2 = add_b(&mut two);
    let replay = two.population("A replayed", A_SIZE, NeuronKind::Replay(loaded.params));
    connect_a_to_b(&mut two, replay, b2);
    let (net2, spikes2) = run_spikes(two.def(), 99, t_end);
    assert_eq!(net2.populations[b2].ids(), 0..B_SIZE);
    let b_replayed: Vec<Spike> = spikes2
        .iter()
        .copied()
        .filter(|s| s.neuron < B_SIZE)
        .collect();
    // The replay population re-emits A's spikes exactly, with its own ids.
    let replayed_a: Vec<Spike> = spikes2
        .iter()
        .filter(|s| s.neuron >= B_SIZE)
        .map(|s| Spike {
            tick: s.tick,
            neuron: s.neuron - B_SIZE + a_ids.start,
        })
        .collect();
    let original_a: Vec<Spike> = direct
        .iter()
        .copied()
        .filter(|s| a_ids.contains(&s.neuron))
        .collect();
    assert_eq!(replayed_a, original_a);
    assert_eq!(
        b_replayed, b_direct,
        "B's spikes differ between direct and replayed input"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes `spikes` to a `.spk` file with `channels` channels.
fn write_spk(path: &Path, channels: u32, spikes: &[Spike]) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = SpkWriter::new(file, &SpkHeader::new(channels)).unwrap();
    w.push_slice(spikes).unwrap();
    w.finish().unwrap();
}

fn spike(t_ms: f64, neuron: u32) -> Spike {
    Spike {
        tick: ms(t_ms),
        neuron,
    }
}

/// Runs a model file (text) to `t_end_ms` and returns the spikes.
fn run_model_file(dir: &Path, text: &str, t_end_ms: f64) -> Vec<Spike> {
    let path = dir.join("model.toml");
    std::fs::write(&path, text).unwrap();
    let model = load_model(&path).unwrap_or_else(|e| panic!("{e}"));
    run_spikes(&model.network, 1, ms(t_end_ms)).1
}

fn sorted(mut spikes: Vec<Spike>) -> Vec<Spike> {
    spikes.sort();
    spikes
}

#[test]
fn replay_options_shift_scale_select_and_loop_as_computed_by_hand() {
    let dir = temp_dir("options");
    // Channel 0: 1 ms; channel 1: 4 ms; channel 2: 2.5 ms and 4 ms.
    write_spk(
        &dir.join("in.spk"),
        3,
        &[spike(1.0, 0), spike(2.5, 2), spike(4.0, 1), spike(4.0, 2)],
    );
    // As recorded (relative path, resolved against the model file's directory).
    let plain = "[[population]]\nname = \"r\"\nsize = 3\nmodel = \"trace\"\nfile = \"in.spk\"\n";
    assert_eq!(
        run_model_file(&dir, plain, 100.0),
        [spike(1.0, 0), spike(2.5, 2), spike(4.0, 1), spike(4.0, 2)]
    );
    // Select [2, 0] (channel 2 -> neuron 0, channel 0 -> neuron 1), scale 2 (times 5, 8 and
    // 2), loop every 10 ms, shift 5 ms: neuron 0 at 10, 13, 20, 23, 30, 33; neuron 1 at 7,
    // 17, 27, 37.
    let text = "[[population]]\nname = \"r\"\nsize = 2\nmodel = \"trace\"\nfile = \"in.spk\"\n\
                channels = [2, 0]\nscale = 2.0\nloop = \"10 ms\"\nshift = \"5 ms\"\n";
    let expected = sorted(
        [10.0, 13.0, 20.0, 23.0, 30.0, 33.0]
            .iter()
            .map(|&t| spike(t, 0))
            .chain([7.0, 17.0, 27.0, 37.0].iter().map(|&t| spike(t, 1)))
            .collect(),
    );
    assert_eq!(run_model_file(&dir, text, 40.0), expected);
    // A negative shift drops what lands before 0; a range selects channels 1..3; a larger
    // population leaves its extra neurons silent; scale 0.5 merges nothing here.
    let text = "[[population]]\nname = \"r\"\nsize = 5\nmodel = \"trace\"\nfile = \"in.spk\"\n\
                channels = [\"1..3\"]\nscale = 0.5\nshift = \"-1.5 ms\"\n";
    // Channel 1 (neuron 0): 2 - 1.5 = 0.5; channel 2 (neuron 1): 1.25 - 1.5 < 0 (dropped),
    // 2 - 1.5 = 0.5.
    assert_eq!(
        run_model_file(&dir, text, 100.0),
        [spike(0.5, 0), spike(0.5, 1)]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_nmnist_model_replays_the_sample_into_a_2d_population() {
    let model = load_model(Path::new("models/replay_nmnist.toml")).unwrap();
    let (net, spikes) = run_spikes(&model.network, model.seed, model.duration);
    let retina = net.populations[0].ids();
    assert_eq!(retina, 0..2312, "2 x 34 x 34 pixels");
    let replayed: Vec<Spike> = spikes
        .iter()
        .copied()
        .filter(|s| retina.contains(&s.neuron))
        .collect();
    // The sample (4,325 events in 311 ms, one of them a same-pixel same-microsecond
    // duplicate that a neuron plays once), looped every 320 ms over 640 ms: channel c of the
    // file (ON event at (x, y): c = 1156 + 34 y + x) is neuron c.
    let (_, mut raw) = spikeq::trace::read_all("traces/nmnist_sample.spk").unwrap();
    assert_eq!(raw.len(), 4325);
    raw.dedup();
    assert_eq!(raw.len(), 4324);
    let looped: Vec<Spike> = raw
        .iter()
        .copied()
        .chain(raw.iter().map(|s| Spike {
            tick: s.tick + ms(320.0),
            neuron: s.neuron,
        }))
        .collect();
    assert_eq!(replayed, looped);
    let pooled = spikes.len() - replayed.len();
    assert!(pooled > 100, "the pool must respond: {pooled} spikes");
}

/// Expects loading `text` (a model file in `dir`) to fail at `line` with `needles` in the message.
fn expect_error(dir: &Path, text: &str, line: usize, needles: &[&str]) {
    let path = dir.join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let e = load_model(&path).expect_err("must be rejected").to_string();
    assert!(
        e.contains(&format!("bad.toml:{line}:")),
        "wrong place in: {e}"
    );
    for n in needles {
        assert!(e.contains(n), "`{n}` missing in: {e}");
    }
}

#[test]
fn replay_errors_name_the_model_line_and_the_trace_problem() {
    let dir = temp_dir("errors");
    write_spk(&dir.join("in.spk"), 4, &[spike(1.0, 0), spike(9.0, 3)]);
    let head = "[[population]]\nname = \"r\"\n";
    // Missing file: the `file` line, the path and the OS error.
    expect_error(
        &dir,
        &format!("{head}size = 4\nmodel = \"trace\"\nfile = \"nope.spk\"\n"),
        5,
        &["nope.spk", "cannot access"],
    );
    // The population is smaller than the declared channels: the `size` line.
    expect_error(
        &dir,
        &format!("{head}size = 3\nmodel = \"trace\"\nfile = \"in.spk\"\n"),
        3,
        &["size 3 does not cover", "declares 4 channels"],
    );
    // A loop shorter than the trace: the `loop` line.
    expect_error(
        &dir,
        &format!("{head}size = 4\nmodel = \"trace\"\nfile = \"in.spk\"\nloop = \"5 ms\"\n"),
        6,
        &["loop period", "9.000000 ms"],
    );
    // A selected channel the trace does not have, and a malformed range.
    expect_error(
        &dir,
        &format!("{head}size = 4\nmodel = \"trace\"\nfile = \"in.spk\"\nchannels = [0, 4]\n"),
        6,
        &["channel 4 is not in the trace"],
    );
    expect_error(
        &dir,
        &format!("{head}size = 4\nmodel = \"trace\"\nfile = \"in.spk\"\nchannels = [\"3..1\"]\n"),
        6,
        &["channel range `3..1`"],
    );
    // A damaged file: the trace layer's byte offset comes through.
    let mut bytes = std::fs::read(dir.join("in.spk")).unwrap();
    bytes[0] = b'X';
    std::fs::write(dir.join("broken.spk"), &bytes).unwrap();
    expect_error(
        &dir,
        &format!("{head}size = 4\nmodel = \"trace\"\nfile = \"broken.spk\"\n"),
        5,
        &["broken.spk", "bad magic at byte 0"],
    );
    // Keys of other models, and no file at all.
    expect_error(
        &dir,
        &format!("{head}size = 4\nmodel = \"trace\"\nfile = \"in.spk\"\nrate = \"5 Hz\"\n"),
        6,
        &["`rate` is not a parameter of model `trace`"],
    );
    expect_error(
        &dir,
        &format!("{head}size = 4\nmodel = \"trace\"\n"),
        4,
        &["needs `file`"],
    );
    // Model text parsed from a string resolves against the current directory.
    let e = parse_model(
        &format!("{head}size = 4\nmodel = \"trace\"\nfile = \"no/such/x.spk\"\n"),
        "<string>",
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("<string>:5:"), "{e}");
    assert_eq!(
        TraceFormat::from_path(Path::new("x.spk")).unwrap(),
        TraceFormat::Spk
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
