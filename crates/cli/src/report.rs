//! The doctor's report as the command line prints it.

use std::fmt::Write as _;

use rowguard::doctor::Report;

/// The report as text: a summary line, then each finding (severity, rule, object) with
/// its detail indented below it.
pub fn render_doctor(report: &Report) -> String {
    let mut out = String::new();
    let errors = report.errors().count();
    let warnings = report.warnings().count();
    if report.findings.is_empty() {
        out.push_str("rowguard doctor: no findings, the isolation rules hold.\n");
        return out;
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let _ = writeln!(
        out,
        "rowguard doctor: {errors} error{}, {warnings} warning{}",
        plural(errors),
        plural(warnings)
    );
    let width = report
        .findings
        .iter()
        .map(|x| x.rule.name().len())
        .max()
        .unwrap_or(0);
    for x in &report.findings {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<7}  {:<width$}  {}",
            x.severity,
            x.rule.name(),
            x.object
        );
        let _ = writeln!(out, "         {}", x.detail);
    }
    out
}

#[cfg(test)]
mod tests {
    use rowguard::doctor::{Finding, Report, Rule, Severity};

    use super::render_doctor;

    #[test]
    fn a_clean_report_says_so() {
        let text = render_doctor(&Report::default());
        assert_eq!(
            text,
            "rowguard doctor: no findings, the isolation rules hold.\n"
        );
    }

    #[test]
    fn findings_are_counted_and_listed_with_their_detail() {
        let finding = |rule, severity, object: &str| Finding {
            rule,
            severity,
            object: object.into(),
            detail: format!("fix {object}"),
        };
        let report = Report {
            findings: vec![
                finding(Rule::RlsNotForced, Severity::Error, "public.notes"),
                finding(
                    Rule::PgvectorCve2026_3172,
                    Severity::Warning,
                    "vector 0.8.0",
                ),
            ],
        };
        let text = render_doctor(&report);
        assert!(
            text.starts_with("rowguard doctor: 1 error, 1 warning\n"),
            "{text}"
        );
        assert!(text.contains("public.notes"), "{text}");
        assert!(text.contains("\n         fix vector 0.8.0\n"), "{text}");
        let error_line = text.lines().find(|l| l.contains("public.notes")).unwrap();
        assert!(error_line.starts_with("error"), "{error_line}");
    }
}
