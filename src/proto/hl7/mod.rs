//! SCRATCH
use super::*;
#[derive(Debug, Default)]
pub struct Hl7Parser;
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rec {
    pub n: usize,
}
impl Record for Rec {
    fn facts(&self, out: &mut Vec<Fact>) {
        out.push(Fact {
            side: Side::Client,
            name: "hl7.x",
            value: self.n.to_string(),
        });
        out.push(Fact {
            side: Side::Server,
            name: "role",
            value: "hl7_server".into(),
        });
    }
}
impl StreamParser for Hl7Parser {
    type Record = Rec;
    const NAME: &'static str = "hl7";
    const MAX_PENDING: usize = 64;
    const ANOMALIES: &'static [&'static str] = &["x"];
    fn probe(_d: Direction, b: &[u8]) -> Probe {
        if b.starts_with(b"hl7") {
            Probe::Match
        } else if b.len() < 4 {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        }
    }
    fn feed(&mut self, _d: Direction, _ts: i64, input: &[u8], out: &mut Vec<Rec>) -> usize {
        out.push(Rec { n: input.len() });
        input.len()
    }
    fn gap(&mut self, _d: Direction, _l: u64) -> bool {
        false
    }
    fn finish(&mut self, _ts: i64, _out: &mut Vec<Rec>) {}
    fn anomaly_counts(&self) -> &[u64] {
        &[0]
    }
}
