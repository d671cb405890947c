//! The simulation as an operator reads it: one CSV row per day, and charts as one
//! self-contained SVG document (no script, no font or stylesheet fetched), which the command
//! line embeds in its HTML report and the demo page shows as it is, so both draw the same
//! picture from the same code. Written by hand: a plotting crate would pull a font stack and
//! a rasteriser into the browser build for a few polylines.

use std::fmt::Write as _;

use super::{Change, Day, Simulation};

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 10] = [
    "date",
    "enrolled",
    "challenged",
    "blocked",
    "blocked_cohort",
    "blocked_org",
    "blocked_floor",
    "blocked_package",
    "blocked_other",
    "orphaned_packages",
];

/// A day's figures, in [`CSV_COLUMNS`] order after `date`: the one list the CSV and the HTML
/// table both write.
fn figures(d: &Day) -> [u64; 9] {
    [
        d.enrolled,
        d.challenged,
        d.blocked(),
        d.blocked_cohort,
        d.blocked_org,
        d.blocked_floor,
        d.blocked_package,
        d.blocked_other,
        d.orphaned_packages,
    ]
}

/// One row per day under [`CSV_COLUMNS`].
pub fn csv(sim: &Simulation) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for d in &sim.days {
        out.push_str(&d.date);
        for n in figures(d) {
            let _ = write!(out, ",{n}");
        }
        out.push('\n');
    }
    out
}

/// Escapes text for XML and HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

struct Series<'a> {
    label: &'a str,
    colour: &'a str,
    values: Vec<u64>,
}

const WIDTH: u64 = 860;
const CHART: u64 = 250;
const LEFT: u64 = 64;
const RIGHT: u64 = 180;
const TOP: u64 = 34;
const BOTTOM: u64 = 40;

/// The charts: accounts enrolled, challenged and blocked by cause, then packages left without
/// an able maintainer.
pub fn svg(sim: &Simulation) -> String {
    let days = &sim.days;
    let of = |f: fn(&Day) -> u64| days.iter().map(f).collect::<Vec<u64>>();
    let accounts = [
        Series {
            label: "enrolled (login code)",
            colour: "#2b6cb0",
            values: of(|d| d.enrolled),
        },
        Series {
            label: "challenged",
            colour: "#718096",
            values: of(|d| d.challenged),
        },
        Series {
            label: "blocked: cohort",
            colour: "#c53030",
            values: of(|d| d.blocked_cohort),
        },
        Series {
            label: "blocked: org",
            colour: "#dd6b20",
            values: of(|d| d.blocked_org),
        },
        Series {
            label: "blocked: floor",
            colour: "#805ad5",
            values: of(|d| d.blocked_floor),
        },
        Series {
            label: "blocked: package",
            colour: "#b7791f",
            values: of(|d| d.blocked_package + d.blocked_other),
        },
    ];
    let packages = [Series {
        label: "no able maintainer",
        colour: "#9b2c2c",
        values: of(|d| d.orphaned_packages),
    }];
    let height = 2 * (TOP + CHART + BOTTOM);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\" aria-label=\"rollout simulation {} to {}\">\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n",
        escape(&sim.from),
        escape(&sim.to)
    );
    chart(
        &mut out,
        0,
        &format!("Accounts per day (of {})", sim.accounts),
        days,
        &accounts,
    );
    chart(
        &mut out,
        TOP + CHART + BOTTOM,
        &format!(
            "Packages without a maintainer able to publish ({} packages)",
            sim.packages
        ),
        days,
        &packages,
    );
    out.push_str("</svg>\n");
    out
}

/// A round step for about five grid lines up to `max`.
fn step(max: u64) -> u64 {
    let raw = max.div_ceil(5).max(1);
    let mut magnitude = 1u64;
    while magnitude.saturating_mul(10) <= raw {
        magnitude *= 10;
    }
    [1, 2, 5, 10]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(raw)
}

fn chart(out: &mut String, y0: u64, title: &str, days: &[Day], series: &[Series<'_>]) {
    let plot_w = WIDTH - LEFT - RIGHT;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let step = step(max);
    let top_value = max.div_ceil(step).max(1) * step;
    let base = y0 + TOP + CHART;
    // Fixed-point coordinates: a tenth of a pixel is finer than any screen draws.
    let x = |i: usize| -> String {
        let n = days.len().saturating_sub(1).max(1) as u64;
        tenths(LEFT * 10 + (i as u64) * plot_w * 10 / n)
    };
    let y = |v: u64| -> String { tenths(base * 10 - v * CHART * 10 / top_value) };
    let _ = writeln!(
        out,
        "<text x=\"{LEFT}\" y=\"{}\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        y0 + 20,
        escape(title)
    );
    let mut v = 0;
    while v <= top_value {
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{yv}\" y2=\"{yv}\" stroke=\"#e2e8f0\"/><text x=\"{}\" y=\"{yv}\" text-anchor=\"end\" dominant-baseline=\"middle\">{v}</text>",
            LEFT + plot_w,
            LEFT - 6,
            yv = y(v)
        );
        v += step;
    }
    let ticks = days.len().clamp(1, 6);
    for t in 0..ticks {
        let i = if ticks == 1 {
            0
        } else {
            t * (days.len() - 1) / (ticks - 1)
        };
        if let Some(d) = days.get(i) {
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x(i),
                base + 18,
                escape(&d.date)
            );
        }
    }
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{base}\" y2=\"{base}\" stroke=\"#4a5568\"/>",
        LEFT + plot_w
    );
    for (k, s) in series.iter().enumerate() {
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{},{}", x(i), y(*v)))
            .collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>",
            s.colour,
            points.join(" "),
            escape(s.label)
        );
        let ly = y0 + TOP + 10 + 20 * k as u64;
        let lx = LEFT + plot_w + 14;
        let last = s.values.last().copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "<line x1=\"{lx}\" x2=\"{}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{}\" stroke-width=\"3\"/><text x=\"{}\" y=\"{ly}\" dominant-baseline=\"middle\">{} ({last})</text>",
            lx + 16,
            s.colour,
            lx + 22,
            escape(s.label)
        );
    }
}

fn tenths(v: u64) -> String {
    format!("{}.{}", v / 10, v % 10)
}

/// A self-contained HTML report: the summary, the charts, who is blocked from when, which
/// packages lose every able maintainer, and the day-by-day table.
pub fn html(sim: &Simulation, title: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>body{{font-family:sans-serif;margin:2em;max-width:960px;color:#1a202c}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #cbd5e0;padding:2px 8px;text-align:left}}.days td{{text-align:right}}.days td:first-child{{text-align:left}}caption{{text-align:left;font-weight:bold}}</style>\n</head><body>\n<h1>{t}</h1>\n",
        t = escape(title)
    );
    let peak = sim.days.iter().map(Day::blocked).max().unwrap_or(0);
    let last = sim.days.last();
    let _ = write!(
        out,
        "<p>{} to {}: {} accounts ({} with 2FA, {} publishers), {} packages, {} decisions.</p>\n<ul><li>On the last day {} accounts are enrolled in login verification, {} challenged and {} blocked from publishing (peak {}).</li><li>{} packages have no maintainer able to publish on the last day.</li></ul>\n",
        escape(&sim.from),
        escape(&sim.to),
        sim.accounts,
        sim.with_tfa,
        sim.publishers,
        sim.packages,
        sim.decisions,
        last.map_or(0, |d| d.enrolled),
        last.map_or(0, |d| d.challenged),
        last.map_or(0, Day::blocked),
        peak,
        last.map_or(0, |d| d.orphaned_packages),
    );
    out.push_str(&svg(sim));
    changes(
        &mut out,
        "Publishers blocked, from the first day",
        "account",
        &sim.blocked,
    );
    changes(
        &mut out,
        "Packages left without a maintainer able to publish",
        "package",
        &sim.orphaned,
    );
    out.push_str("<details><summary>Day by day</summary><table class=\"days\"><tr>");
    for c in CSV_COLUMNS {
        let _ = write!(out, "<th>{c}</th>");
    }
    out.push_str("</tr>\n");
    for d in &sim.days {
        let _ = write!(out, "<tr><td>{}</td>", escape(&d.date));
        for n in figures(d) {
            let _ = write!(out, "<td>{n}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></details>\n</body></html>\n");
    out
}

/// Rows shown per list; the CSV and JSON answers have them all.
const LIST_ROWS: usize = 500;

fn changes(out: &mut String, caption: &str, what: &str, list: &[Change]) {
    let _ = writeln!(
        out,
        "<table><caption>{} ({})</caption><tr><th>{what}</th><th>from</th><th>why</th><th>rule</th></tr>",
        escape(caption),
        list.len()
    );
    for c in list.iter().take(LIST_ROWS) {
        let why = serde_json::to_value(c.why)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&c.name),
            escape(&c.date),
            escape(&why),
            escape(&c.rule)
        );
    }
    if list.len() > LIST_ROWS {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"4\">… and {} more (all are in the JSON answer)</td></tr>",
            list.len() - LIST_ROWS
        );
    }
    out.push_str("</table>\n");
}
