//! Random-input testing of `dampwatch mould`'s CSV import: a surveyor's logger export is
//! whatever the logger (or a spreadsheet) wrote.
//!
//! Properties: random bytes, damaged exports and exports with extreme values (times from year
//! 0 to 9999, every UTC offset, values at and beyond the sensor ranges, missing cells, NaN)
//! never panic; a run either fails with an error naming a line or writes every row back with
//! its results and the closing lines; a valid export of `n` rows gives `n` rows and mould
//! indices within the model's range.
//!
//! `DAMPWATCH_FUZZ_CASES` sets the inputs per property (see `dampwatch-fuzz`).

use chrono::{DateTime, Duration, TimeZone, Utc};
use dampwatch_fuzz::proptest::prelude::*;
use dampwatch_fuzz::{bytes, check, mutated};
use dampwatch_indicators::csv_tool::{run_mould, MouldArgs};
use dampwatch_indicators::MaterialClass;

fn args(class: MaterialClass, max_gap_h: Option<i64>) -> MouldArgs {
    MouldArgs { class, max_gap: max_gap_h.map(Duration::hours) }
}

fn class() -> impl Strategy<Value = MaterialClass> {
    prop::sample::select(MaterialClass::ALL.to_vec())
}

/// Runs the import; on success checks the shape of what was written.
fn run(args: &MouldArgs, input: &[u8]) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    match run_mould(args, input, &mut out) {
        Ok(summary) => {
            let text = String::from_utf8_lossy(&out);
            let last = text.lines().last().unwrap_or("");
            prop_assert!(last.starts_with("max_mould_index="), "last line {:?}", last);
            prop_assert!(
                summary.max_mould_index.is_finite() && summary.max_mould_index >= 0.0,
                "{:?}",
                summary
            );
            prop_assert!(summary.final_mould_index <= summary.max_mould_index + 1e-9, "{:?}", summary);
            prop_assert!(summary.skipped_rows <= summary.rows);
        }
        Err(e) => {
            let message = format!("{e:#}");
            prop_assert!(message.contains("line") || message.contains("CSV"), "{}", message);
        }
    }
    Ok(())
}

#[test]
fn random_bytes_never_panic() {
    let header = prop::sample::select(vec!["", "time,temperature,rh\n", "t_UTC+2,T,RH\n", "T,RH,t_utc\n"]);
    check("mould-csv random bytes", (header, bytes(400), class()), |(header, body, class)| {
        let input = [header.as_bytes(), &body].concat();
        run(&args(class, None), &input)
    });
}

/// A time cell in the layout of the header, anywhere from year 0 to 9999, sometimes not a time.
fn time_cell(rfc3339: bool) -> impl Strategy<Value = (i64, String)> {
    let min = Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap().timestamp();
    let max = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap().timestamp();
    prop_oneof![
        8 => (min..=max).prop_map(move |s| {
            let t: DateTime<Utc> = Utc.timestamp_opt(s, 0).unwrap();
            let text = if rfc3339 { t.to_rfc3339() } else { t.format("%Y-%m-%d %H:%M:%S").to_string() };
            (s, text)
        }),
        1 => "\\PC{0,24}".prop_map(|s| (0, s)),
    ]
}

fn value_cell(lo: f64, hi: f64) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (lo..=hi).prop_map(|v| format!("{v:.2}")),
        1 => prop::sample::select(vec!["", "NaN", "na", "null", "inf", "-inf", "1e400", "-0", " 5 ", "5,5", "x"])
            .prop_map(str::to_owned),
        1 => any::<f64>().prop_map(|v| v.to_string()),
    ]
}

/// An export of either layout: rows in time order (a regular logger, or random steps from
/// seconds to centuries), then the whole file possibly damaged.
fn export() -> impl Strategy<Value = (String, bool)> {
    let offset = prop_oneof![
        Just(String::new()),
        (-14..=14i32).prop_map(|h| format!("{h:+}")),
        (0..=14u32, 0..60u32).prop_map(|(h, m)| format!("+{h:02}:{m:02}")),
        "[-+]?[0-9:]{0,6}",
    ];
    (any::<bool>(), offset, 0..60usize, any::<bool>(), any::<i64>()).prop_flat_map(
        |(rfc3339, offset, n, regular, start)| {
            let steps = if regular {
                let step = prop_oneof![Just(600i64), Just(21_600), 1..10_000_000_000i64].boxed();
                step.prop_map(move |s| vec![s; n]).boxed()
            } else {
                prop::collection::vec(prop_oneof![1..7_200i64, 1..100_000_000_000i64], n).boxed()
            };
            let cells = prop::collection::vec(
                (time_cell(rfc3339), value_cell(-70.0, 110.0), value_cell(-5.0, 105.0), any::<bool>()),
                n,
            );
            (steps, cells).prop_map(move |(steps, cells)| {
                let header =
                    if rfc3339 { "time,temperature,rh".to_owned() } else { format!("t_UTC{offset},T,RH") };
                let mut lines = vec![header];
                let mut t = start.rem_euclid(200_000_000_000) - 62_000_000_000;
                for (step, ((_, bad_time), temperature, rh, keep_time)) in steps.iter().zip(cells) {
                    t = t.saturating_add(*step);
                    let time = match Utc.timestamp_opt(t, 0).single() {
                        Some(at) if keep_time => {
                            if rfc3339 {
                                at.to_rfc3339()
                            } else {
                                at.format("%Y-%m-%d %H:%M:%S").to_string()
                            }
                        }
                        _ => bad_time,
                    };
                    lines.push(format!("{time},{temperature},{rh}"));
                }
                (lines.join("\n") + "\n", rfc3339)
            })
        },
    )
}

#[test]
fn exports_with_extreme_values_never_panic() {
    let strategy = (export(), class(), prop_oneof![Just(None), (1..1_000_000i64).prop_map(Some)]);
    check("mould-csv extreme exports", strategy, |((csv, _), class, max_gap_h)| {
        run(&args(class, max_gap_h), csv.as_bytes())
    });
}

#[test]
fn damaged_exports_never_panic() {
    let strategy = (mutated(export().prop_map(|(csv, _)| csv.into_bytes())), class());
    check("mould-csv damaged exports", strategy, |(csv, class)| run(&args(class, None), &csv));
}

#[test]
fn valid_exports_give_every_row_back() {
    let row = (-20.0..40.0f64, 20.0..100.0f64);
    let strategy =
        (prop::collection::vec(row, 1..100), 60..86_400i64, 1_500_000_000..2_000_000_000i64, class());
    check("mould-csv valid exports", strategy, |(rows, step, start, class)| {
        let mut csv = String::from("time,temperature,rh\n");
        for (i, (t, rh)) in rows.iter().enumerate() {
            let at = Utc.timestamp_opt(start + step * i as i64, 0).unwrap();
            csv.push_str(&format!("{},{t:.2},{rh:.2}\n", at.to_rfc3339()));
        }
        let mut out = Vec::new();
        let summary = run_mould(&args(class, None), csv.as_bytes(), &mut out).unwrap();
        prop_assert_eq!(summary.rows, rows.len() as u64);
        prop_assert_eq!(summary.skipped_rows, 0);
        let text = String::from_utf8(out).unwrap();
        let data_rows = text.lines().skip(1).take_while(|l| !l.starts_with("sampling:")).count();
        prop_assert_eq!(data_rows, rows.len());
        // The VTT index runs from 0 to 6.
        prop_assert!((0.0..=6.0).contains(&summary.max_mould_index), "{:?}", summary);
        Ok(())
    });
}
