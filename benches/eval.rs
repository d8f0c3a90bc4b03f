//! Evaluation speed: one request against the default key policy and against a
//! 30-statement policy with conditions (target: well under a microsecond per simple
//! request), plus parsing for reference.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

use kmsdoctor::analysis::eval::{decide, evaluate};
use kmsdoctor::analysis::lockout::delegation::{default_policy, delegation_statement};
use kmsdoctor::analysis::policy::{parse_policy, PolicyKind};
use kmsdoctor::config::{resolve_request, RequestFlags};

/// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 30 statements of the kinds real key policies hold: named roles, wildcard principals with
/// conditions, Denies, NotAction, IP and MFA conditions.
fn thirty_statements() -> String {
    let mut s = vec![delegation_statement("aws", "111122223333").to_string()];
    for i in 0..10 {
        s.push(format!(r#"{{"Sid":"Role{i}","Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::111122223333:role/App{i}","arn:aws:iam::111122223333:role/Ops{i}"]}},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}}"#));
    }
    for i in 0..10 {
        s.push(format!(r#"{{"Sid":"Cond{i}","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{{"StringEquals":{{"kms:CallerAccount":"111122223333","kms:ViaService":"s3.us-east-{i}.amazonaws.com"}},"Bool":{{"aws:SecureTransport":"true"}}}}}}"#));
    }
    for i in 0..9 {
        s.push(format!(r#"{{"Sid":"Deny{i}","Effect":"Deny","Principal":"*","NotAction":["kms:Decrypt","kms:Encrypt"],"Resource":"*","Condition":{{"NotIpAddress":{{"aws:SourceIp":["10.{i}.0.0/16","2001:db8:{i}::/48"]}},"ArnNotLike":{{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/Admin*"}}}}}}"#));
    }
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        s.join(",")
    )
}

fn request(
    principal: &str,
    action: &str,
    context: &[String],
) -> kmsdoctor::analysis::eval::Request {
    resolve_request(&RequestFlags {
        principal,
        action,
        resource: "*",
        account: None,
        context,
        absent: &[],
        assume_absent: true,
    })
    .expect("request")
    .0
}

fn bench(c: &mut Criterion) {
    let default_text = default_policy("aws", "111122223333");
    let default =
        parse_policy(&default_text, PolicyKind::Key, "key-policy").expect("default policy");
    let big_text = thirty_statements();
    let big = parse_policy(&big_text, PolicyKind::Key, "key-policy").expect("30-statement policy");
    assert_eq!(big.statements.len(), 30);
    let root = request("111122223333", "kms:PutKeyPolicy", &[]);
    let admin = request(
        "arn:aws:sts::111122223333:assumed-role/Admin/alice",
        "kms:PutKeyPolicy",
        &[
            "aws:SourceIp=10.3.4.5".into(),
            "aws:SecureTransport=true".into(),
        ],
    );
    let app = request(
        "arn:aws:iam::111122223333:role/App7",
        "kms:Decrypt",
        &[
            "aws:SecureTransport=true".into(),
            "kms:ViaService=s3.us-east-1.amazonaws.com".into(),
        ],
    );
    let no_iam: &[kmsdoctor::analysis::policy::Policy] = &[];

    c.bench_function("evaluate/default policy, root user", |b| {
        b.iter(|| evaluate(black_box(&root), Some(black_box(&default)), None))
    });
    c.bench_function("evaluate/default policy, role, no IAM policies", |b| {
        b.iter(|| evaluate(black_box(&admin), Some(black_box(&default)), Some(no_iam)))
    });
    c.bench_function("evaluate/30 statements, admin PutKeyPolicy", |b| {
        b.iter(|| evaluate(black_box(&admin), Some(black_box(&big)), Some(no_iam)))
    });
    c.bench_function("evaluate/30 statements, app Decrypt", |b| {
        b.iter(|| evaluate(black_box(&app), Some(black_box(&big)), Some(no_iam)))
    });
    c.bench_function("decide/default policy, root user", |b| {
        b.iter(|| decide(black_box(&root), Some(black_box(&default)), None))
    });
    c.bench_function("decide/default policy, role, no IAM policies", |b| {
        b.iter(|| decide(black_box(&admin), Some(black_box(&default)), Some(no_iam)))
    });
    c.bench_function("decide/30 statements, admin PutKeyPolicy", |b| {
        b.iter(|| decide(black_box(&admin), Some(black_box(&big)), Some(no_iam)))
    });
    c.bench_function("decide/30 statements, app Decrypt", |b| {
        b.iter(|| decide(black_box(&app), Some(black_box(&big)), Some(no_iam)))
    });
    c.bench_function("parse/default policy", |b| {
        b.iter(|| parse_policy(black_box(&default_text), PolicyKind::Key, "key-policy"))
    });
    c.bench_function("parse/30 statements", |b| {
        b.iter(|| parse_policy(black_box(&big_text), PolicyKind::Key, "key-policy"))
    });
    c.bench_function(
        "parse/30 statements, JSON tree only (serde_json Value)",
        |b| b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(&big_text))),
    );
    c.bench_function(
        "parse/30 statements, JSON tree only (kmsdoctor's borrowing tree)",
        |b| b.iter(|| kmsdoctor::analysis::json::Json::parse(black_box(&big_text))),
    );
    c.bench_function("parse/30 statements, JSON syntax only (IgnoredAny)", |b| {
        b.iter(|| serde_json::from_str::<serde::de::IgnoredAny>(black_box(&big_text)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
