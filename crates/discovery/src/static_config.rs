//! `static_configs`: groups written directly in the configuration.

use beacon_model::Labels;

use crate::TargetGroup;

/// Builds the groups of one job's `static_configs`, with sources `"0"`,
/// `"1"`, ... as Prometheus names them.
pub fn groups<'a, I>(configs: I) -> Vec<TargetGroup>
where
    I: IntoIterator<Item = (&'a [String], &'a Labels)>,
{
    configs
        .into_iter()
        .enumerate()
        .map(|(i, (targets, labels))| {
            TargetGroup::from_addresses(
                i.to_string(),
                targets.iter().map(String::as_str),
                labels.clone(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_sources() {
        let t = vec!["a:1".to_owned()];
        let l = Labels::from_pairs([("x", "y")]);
        let g = groups([(t.as_slice(), &l), (t.as_slice(), &Labels::empty())]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[1].source, "1");
        assert_eq!(g[0].labels.get("x"), Some("y"));
        assert_eq!(g[0].targets[0].get("__address__"), Some("a:1"));
    }
}
