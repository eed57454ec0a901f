//! Rows of samples and their rendering as Markdown tables with medians and ratios.

use std::fmt::Write as _;

/// One measured row: repeated samples of one quantity.
pub struct Row {
    /// Section the row belongs to ("Stream throughput").
    pub section: &'static str,
    /// Name of the measured path ("ocirt, C callbacks").
    pub name: String,
    /// Unit of the samples ("MiB/s", "ms").
    pub unit: &'static str,
    /// Whether larger samples are better (throughput) or worse (latency).
    pub higher_is_better: bool,
    /// The samples, in measurement order.
    pub samples: Vec<f64>,
    /// Name of the row in the same section that ratios are computed against, if any.
    pub reference: Option<String>,
    /// A note printed under the table (a skip reason, a target).
    pub note: Option<String>,
}

impl Row {
    pub fn new(
        section: &'static str,
        name: &str,
        unit: &'static str,
        higher_is_better: bool,
    ) -> Row {
        Row {
            section,
            name: name.to_string(),
            unit,
            higher_is_better,
            samples: Vec::new(),
            reference: None,
            note: None,
        }
    }

    /// Returns the median of the samples (the mean of the middle two for an even count), or
    /// None without samples.
    pub fn median(&self) -> Option<f64> {
        if self.samples.is_empty() {
            return None;
        }
        let mut sorted = self.samples.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).expect("samples are not NaN"));
        let middle = sorted.len() / 2;
        Some(if sorted.len() % 2 == 0 {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        } else {
            sorted[middle]
        })
    }

    pub fn min(&self) -> Option<f64> {
        self.samples.iter().copied().reduce(f64::min)
    }

    pub fn max(&self) -> Option<f64> {
        self.samples.iter().copied().reduce(f64::max)
    }
}

/// Formats a table value with no decimals from 100 up, one from 10 up and two below 10, or
/// returns "-" for None.
fn number(value: Option<f64>) -> String {
    match value {
        None => "-".to_string(),
        Some(v) if v >= 100.0 => format!("{:.0}", v),
        Some(v) if v >= 10.0 => format!("{:.1}", v),
        Some(v) => format!("{:.2}", v),
    }
}

/// Renders the rows as one Markdown table per section, in the order the sections first
/// appear, each followed by its rows' notes.
pub fn render(rows: &[Row]) -> String {
    let mut text = String::new();
    let mut sections: Vec<&str> = Vec::new();
    for row in rows {
        if !sections.contains(&row.section) {
            sections.push(row.section);
        }
    }
    for section in sections {
        let _ = writeln!(text, "### {}\n", section);
        let _ = writeln!(text, "| row | n | median | min | max | unit | ratio | vs |");
        let _ = writeln!(text, "|---|---|---|---|---|---|---|---|");
        let in_section: Vec<&Row> = rows.iter().filter(|r| r.section == section).collect();
        let mut notes = Vec::new();
        for row in &in_section {
            let reference = row
                .reference
                .as_ref()
                .and_then(|name| in_section.iter().find(|r| &r.name == name));
            let ratio = match (row.median(), reference.and_then(|r| r.median())) {
                (Some(mine), Some(theirs)) if theirs > 0.0 => format!("{:.3}", mine / theirs),
                _ => "-".to_string(),
            };
            let better = if row.higher_is_better {
                "higher"
            } else {
                "lower"
            };
            let _ = writeln!(
                text,
                "| {} | {} | {} | {} | {} | {}, {} is better | {} | {} |",
                row.name,
                row.samples.len(),
                number(row.median()),
                number(row.min()),
                number(row.max()),
                row.unit,
                better,
                ratio,
                row.reference.as_deref().unwrap_or("-")
            );
            if let Some(note) = &row.note {
                notes.push(format!("- {}: {}", row.name, note));
            }
        }
        if !notes.is_empty() {
            let _ = writeln!(text);
            for note in notes {
                let _ = writeln!(text, "{}", note);
            }
        }
        let _ = writeln!(text);
    }
    text
}
