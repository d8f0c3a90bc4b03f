//! Policy variables (`${aws:username}`, `${aws:PrincipalTag/team, 'none'}`, and the escapes
//! `${*}`, `${?}`, `${$}`), expanded in `Resource` values and string/ARN condition values of
//! policies whose `Version` is `2012-10-17`.

use super::context::{Context, Lookup};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Substituted {
    Value(String),
    /// A variable's key is absent and has no default: the value matches nothing.
    Unresolvable,
    /// A variable's key is not known: the outcome depends on it.
    Unknown(String),
}

pub fn substitute(template: &str, ctx: &Context) -> Substituted {
    if !template.contains("${") {
        return Substituted::Value(template.to_string());
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            // Not a variable: keep the text as it is.
            out.push_str(&rest[start..]);
            return Substituted::Value(out);
        };
        let inner = &after[..end];
        rest = &after[end + 1..];
        match inner {
            "*" | "?" | "$" => {
                out.push_str(inner);
                continue;
            }
            _ => {}
        }
        let (key, default) = match inner.split_once(',') {
            Some((k, d)) => {
                let d = d.trim();
                let d = d
                    .strip_prefix('\'')
                    .and_then(|d| d.strip_suffix('\''))
                    .unwrap_or(d);
                (k.trim(), Some(d))
            }
            None => (inner.trim(), None),
        };
        match ctx.lookup(key) {
            Lookup::Values([one]) => out.push_str(one),
            // Multi-valued keys cannot be used as variables.
            Lookup::Values(_) | Lookup::Absent => match default {
                Some(d) => out.push_str(d),
                None => return Substituted::Unresolvable,
            },
            Lookup::Unknown => return Substituted::Unknown(key.to_string()),
        }
    }
    out.push_str(rest);
    Substituted::Value(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_variables_and_escapes() {
        let mut c = Context::closed();
        c.push("aws:username", "bob");
        assert_eq!(
            substitute("home/${aws:username}/*", &c),
            Substituted::Value("home/bob/*".into())
        );
        assert_eq!(
            substitute("a${*}b${?}${$}", &c),
            Substituted::Value("a*b?$".into())
        );
        assert_eq!(substitute("${aws:userid}", &c), Substituted::Unresolvable);
        assert_eq!(
            substitute("${aws:PrincipalTag/team, 'none'}", &c),
            Substituted::Value("none".into())
        );
        assert_eq!(
            substitute("${unterminated", &c),
            Substituted::Value("${unterminated".into())
        );
        assert_eq!(
            substitute("${aws:SourceIp}", &Context::open()),
            Substituted::Unknown("aws:SourceIp".into())
        );
    }
}
