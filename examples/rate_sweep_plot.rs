//! Plots the rate sweep (`benches/rate_sweep.py`): seconds per simulated second against the
//! mean firing rate, one curve per simulator (medians over repetitions). The seconds are the
//! simulators' own simulation-loop wall time (`sim_wall_s`, default) or the whole process's
//! CPU time (`process_cpu_s`: start-up and network construction included).
//!
//! `cargo run --release --example rate_sweep_plot [CSV] [PNG] [sim_wall_s|process_cpu_s]`
//! (defaults `docs/rate_sweep.csv`, `docs/rate_sweep.png`, `sim_wall_s`)

use plotters::prelude::*;
use std::collections::BTreeMap;

const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-subset.ttf");

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// (tool, drive HI in mV as text) -> (rates, wall s per simulated s).
type Runs = BTreeMap<(String, String), (Vec<f64>, Vec<f64>)>;

fn read(path: &str, metric: &str) -> Result<Runs, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty CSV")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("no column {name}"))
    };
    let (tool, hi, dur, rate, sim) = (
        col("tool")?,
        col("hi_mv")?,
        col("duration_ms")?,
        col("mean_rate_hz")?,
        col(metric)?,
    );
    let mut runs = Runs::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        let per_s = f[sim].parse::<f64>()? / (f[dur].parse::<f64>()? / 1000.0);
        let e = runs
            .entry((f[tool].to_string(), f[hi].to_string()))
            .or_default();
        e.0.push(f[rate].parse()?);
        e.1.push(per_s);
    }
    Ok(runs)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let csv = args.first().map_or("docs/rate_sweep.csv", String::as_str);
    let png = args.get(1).map_or("docs/rate_sweep.png", String::as_str);
    let metric = args.get(2).map_or("sim_wall_s", String::as_str);
    let y_desc = match metric {
        "sim_wall_s" => "simulation-loop wall time per simulated second [s]",
        "process_cpu_s" => "whole-process CPU time per simulated second [s]",
        _ => return Err(format!("unknown metric {metric}").into()),
    };
    let mut curves: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for ((tool, _), (mut rates, mut walls)) in read(csv, metric)? {
        curves
            .entry(tool)
            .or_default()
            .push((median(&mut rates), median(&mut walls)));
    }
    for c in curves.values_mut() {
        c.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let x_max = curves.values().flatten().map(|p| p.0).fold(1.0, f64::max) * 1.05;
    let y_max = curves.values().flatten().map(|p| p.1).fold(0.1, f64::max) * 1.1;

    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| "the bundled font is unreadable")?;
    let root = BitMapBackend::new(png, (1000, 650)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Rate sweep: 10,000 LIF neurons, in-degree 100, one thread",
            ("sans-serif", 24),
        )
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("mean firing rate [Hz]")
        .y_desc(y_desc)
        .label_style(("sans-serif", 16))
        .draw()?;
    let colors = [RED, BLUE, GREEN, MAGENTA];
    for (k, (tool, pts)) in curves.iter().enumerate() {
        let c = colors[k % colors.len()];
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
            .label(tool.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 18))
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    println!("wrote {png}");
    Ok(())
}
