//! CloudTrail LookupEvents and the read-only guard, against mocked AWS replies
//! (`aws-smithy-mocks`): paging, throttling, server errors, bad records, repeated and
//! expired page tokens. CloudTrail LookupEvents is not in moto, hence mocks here.

use std::time::Duration;

use aws_sdk_cloudtrail::operation::lookup_events::{LookupEventsError, LookupEventsOutput};
use aws_sdk_cloudtrail::types::Event;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use chrono::{DateTime, Utc};
use kmsdoctor::analysis::lockout::KeyRef;
use kmsdoctor::evidence::aws::{
    cloudtrail_config, lookup_policy_events, CallLog, Clients, KeyLookup, LookupPacing,
    LookupReport, ReadOnlyGuard,
};

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn record(id: &str, minute: u32, key: &str) -> String {
    serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Admin/a", "accountId": "111122223333",
                          "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/Admin"}}},
        "eventTime": format!("2026-11-01T10:{minute:02}:00Z"),
        "eventSource": "kms.amazonaws.com",
        "eventName": "PutKeyPolicy",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.1",
        "requestParameters": {"keyId": key, "policyName": "default", "bypassPolicyLockoutSafetyCheck": false,
            "policy": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"Enable IAM User Permissions\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}"},
        "eventID": id,
        "resources": [{"ARN": key, "type": "AWS::KMS::Key"}],
        "recipientAccountId": "111122223333"
    })
    .to_string()
}

fn event(id: &str, minute: u32) -> Event {
    Event::builder()
        .event_id(id)
        .event_name("PutKeyPolicy")
        .event_time(aws_smithy_types::DateTime::from_secs(
            1_793_527_200 + i64::from(minute) * 60,
        ))
        .cloud_trail_event(record(id, minute, KEY))
        .build()
}

fn page(events: Vec<Event>, next: Option<&str>) -> LookupEventsOutput {
    LookupEventsOutput::builder()
        .set_events(Some(events))
        .set_next_token(next.map(str::to_string))
        .build()
}

/// Clients around a KMS client of the test's own (its mocks and guard); the others answer
/// nothing.
fn with_kms(kms: aws_sdk_kms::Client, calls: CallLog) -> Clients {
    Clients {
        sts: mock_client!(aws_sdk_sts, RuleMode::MatchAny, &[]),
        kms,
        cloudtrail: mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, &[]),
        iam: mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[]),
        organizations: mock_client!(aws_sdk_organizations, RuleMode::MatchAny, &[]),
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[]),
        athena: mock_client!(aws_sdk_athena, RuleMode::MatchAny, &[]),
        region: "us-east-1".into(),
        calls,
        roles: Default::default(),
    }
}

fn clients(rules: &[&Rule]) -> Clients {
    let calls = CallLog::default();
    let guard = ReadOnlyGuard::new(calls.clone(), "us-east-1");
    let g = guard.clone();
    // Configured as in production (guard, no SDK retries), over the mocks.
    // The key's state changes (ScheduleKeyDeletion...) are looked up too: none here, unless
    // a test's own rule answers them first.
    let quiet = no_state_changes();
    let rules: Vec<&Rule> = rules
        .iter()
        .copied()
        .chain(std::iter::once(&quiet))
        .collect();
    let cloudtrail = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, &rules, move |b| {
        cloudtrail_config(b, &g)
    });
    Clients {
        sts: mock_client!(aws_sdk_sts, RuleMode::MatchAny, &[]),
        kms: mock_client!(aws_sdk_kms, RuleMode::MatchAny, &[]),
        cloudtrail,
        iam: mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[]),
        organizations: mock_client!(aws_sdk_organizations, RuleMode::MatchAny, &[]),
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[]),
        athena: mock_client!(aws_sdk_athena, RuleMode::MatchAny, &[]),
        region: "us-east-1".into(),
        calls,
        roles: Default::default(),
    }
}

fn fast() -> LookupPacing {
    LookupPacing {
        interval: Duration::from_millis(1),
        backoff: Duration::from_millis(1),
        max_attempts: 4,
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .unwrap()
        .to_utc()
}

/// Runs the lookups with a key created inside the window (so CreateKey is one narrow call).
fn run(c: &Clients, pacing: LookupPacing) -> (Vec<String>, LookupReport) {
    let (ids, report, _) = run_noting_progress(c, pacing);
    (ids, report)
}

/// [`run`], and what was reported as progress, one line each.
fn run_noting_progress(
    c: &Clients,
    pacing: LookupPacing,
) -> (Vec<String>, LookupReport, Vec<String>) {
    let noted = std::sync::Mutex::new(Vec::new());
    let note = |p: kmsdoctor::evidence::aws::LookupProgress<'_>| {
        noted.lock().unwrap().push(match p {
            kmsdoctor::evidence::aws::LookupProgress::Page {
                event,
                pages,
                found,
            } => {
                format!("page {event} {pages} {found}")
            }
            kmsdoctor::evidence::aws::LookupProgress::Retry {
                event,
                attempt,
                of,
                why,
                ..
            } => format!("retry {event} {attempt}/{of}: {why}"),
            kmsdoctor::evidence::aws::LookupProgress::Note(text) => format!("note {text}"),
            kmsdoctor::evidence::aws::LookupProgress::ArchiveDay { day, files, .. } => {
                format!("archive {day} {files}")
            }
        })
    };
    let key = KeyRef::parse(KEY).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let created = Some(
        DateTime::parse_from_rfc3339("2026-11-01T09:00:00Z")
            .unwrap()
            .to_utc(),
    );
    let (mut by_key, report) = rt.block_on(lookup_policy_events(
        c,
        &[KeyLookup {
            key,
            creation: created,
            primary_region: None,
            // The state is not known: the state changes are looked up too.
            state_enabled: false,
            grants: true,
        }],
        now() - chrono::Duration::days(90),
        now(),
        pacing,
        &note,
    ));
    let events = by_key.pop().unwrap_or_default();
    (
        events.into_iter().map(|e| e.event_id).collect(),
        report,
        noted.into_inner().unwrap(),
    )
}

/// Empty pages for the lookups of the key's state changes.
fn no_state_changes() -> Rule {
    mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| {
            kmsdoctor::analysis::events::EventName::parse(
                r.lookup_attributes()[0].attribute_value(),
            )
            .is_some_and(|e| !e.sets_policy())
        })
        .then_output(|| page(vec![], None))
}

fn empty_create_key() -> Rule {
    mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.lookup_attributes()[0].attribute_value() == "CreateKey")
        .then_output(|| page(vec![], None))
}

#[test]
fn three_pages_are_joined_in_order() {
    let p1 = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| {
            r.next_token().is_none() && r.lookup_attributes()[0].attribute_value() == "PutKeyPolicy"
        })
        .then_output(|| page(vec![event("e1", 1), event("e2", 2)], Some("t2")));
    let p2 = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.next_token() == Some("t2"))
        .then_output(|| page(vec![event("e3", 3)], Some("t3")));
    let p3 = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.next_token() == Some("t3"))
        .then_output(|| page(vec![event("e4", 4)], None));
    let c = clients(&[&p1, &p2, &p3, &empty_create_key()]);
    let (ids, report) = run(&c, fast());
    assert_eq!(ids, vec!["e1", "e2", "e3", "e4"]);
    assert!(report.complete, "{:?}", report.problems);
    // Three pages of PutKeyPolicy, one for each of the four state changes and the three
    // grant events, one CreateKey.
    assert_eq!((report.calls, report.pages), (11, 11));
    assert!(c
        .calls
        .calls()
        .iter()
        .all(|call| call.operation == "LookupEvents"));
}

#[test]
fn throttling_then_success() {
    let rule = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.lookup_attributes()[0].attribute_value() == "PutKeyPolicy")
        .sequence()
        .error(|| {
            LookupEventsError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("Rate exceeded")
                    .build(),
            )
        })
        .error(|| {
            LookupEventsError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("Rate exceeded")
                    .build(),
            )
        })
        .output(|| page(vec![event("e1", 1)], None))
        .build();
    let c = clients(&[&rule, &empty_create_key()]);
    let (ids, report, progress) = run_noting_progress(&c, fast());
    assert_eq!(ids, vec!["e1"]);
    assert!(report.complete);
    assert_eq!(
        report.calls, 11,
        "two throttled calls, the good one, the four state changes, the three grant events, then CreateKey"
    );
    // Each retry is reported, with its reason, before the wait (issue 15, item 8).
    assert_eq!(
        progress,
        vec![
            "retry PutKeyPolicy 2/4: ThrottlingException: Rate exceeded",
            "retry PutKeyPolicy 3/4: ThrottlingException: Rate exceeded",
            "page PutKeyPolicy 1 1",
            "page ScheduleKeyDeletion 2 1",
            "page CancelKeyDeletion 3 1",
            "page DisableKey 4 1",
            "page EnableKey 5 1",
            "page CreateGrant 6 1",
            "page RetireGrant 7 1",
            "page RevokeGrant 8 1",
            "page CreateKey 9 1",
        ]
    );
}

#[test]
fn a_server_error_then_success() {
    let rule = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.lookup_attributes()[0].attribute_value() == "PutKeyPolicy")
        .sequence()
        .http_status(
            500,
            Some("<html><body>Internal Server Error</body></html>".into()),
        )
        .output(|| page(vec![event("e1", 1)], None))
        .build();
    let c = clients(&[&rule, &empty_create_key()]);
    let (ids, report) = run(&c, fast());
    assert_eq!(ids, vec!["e1"]);
    assert!(report.complete, "{:?}", report.problems);
    assert_eq!(
        report.calls,
        3 + 4 + 3,
        "and one for each kind of state change and of grant event"
    );
}

#[test]
fn giving_up_after_repeated_server_errors_marks_the_history_incomplete() {
    let rule = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.lookup_attributes()[0].attribute_value() == "PutKeyPolicy")
        .sequence()
        .http_status(503, None)
        .times(4)
        .build();
    let c = clients(&[&rule, &empty_create_key()]);
    let (ids, report) = run(&c, fast());
    assert!(ids.is_empty());
    assert!(!report.complete);
    assert!(
        report.problems[0].contains("failed") && report.problems[0].contains("4 attempt"),
        "{:?}",
        report.problems
    );
}

#[test]
fn a_malformed_cloudtrail_event_is_counted_not_fatal() {
    let rule = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.lookup_attributes()[0].attribute_value() == "PutKeyPolicy")
        .then_output(|| {
            let broken = Event::builder()
                .event_id("bad")
                .cloud_trail_event("{\"eventSource\": \"kms.amazonaws.com\", \"eventName\": \"PutKeyPolicy\", truncated")
                .build();
            let no_record = Event::builder().event_id("none").build();
            page(vec![event("e1", 1), broken, no_record], None)
        });
    let c = clients(&[&rule, &empty_create_key()]);
    let (ids, report) = run(&c, fast());
    assert_eq!(ids, vec!["e1"]);
    assert_eq!(report.unreadable, 2);
    assert!(report.complete);
}

#[test]
fn a_repeating_next_token_stops_the_loop() {
    let first = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| {
            r.next_token().is_none() && r.lookup_attributes()[0].attribute_value() == "PutKeyPolicy"
        })
        .then_output(|| page(vec![event("e1", 1)], Some("same")));
    let again = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.next_token() == Some("same"))
        .sequence()
        .output(|| page(vec![event("e2", 2)], Some("same")))
        .repeatedly()
        .build();
    let c = clients(&[&first, &again, &empty_create_key()]);
    let (ids, report) = run(&c, fast());
    assert_eq!(ids, vec!["e1", "e2"]);
    assert!(!report.complete);
    assert!(
        report.problems[0].contains("returned before"),
        "{:?}",
        report.problems
    );
    // The looping PutKeyPolicy lookup stops; the four state and three grant lookups take
    // one call each.
    assert!(
        report.calls <= 11,
        "no endless loop: {} calls",
        report.calls
    );
}

#[test]
fn an_expired_token_leaves_the_history_marked_incomplete() {
    let first = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| {
            r.next_token().is_none() && r.lookup_attributes()[0].attribute_value() == "PutKeyPolicy"
        })
        .then_output(|| page(vec![event("e1", 1)], Some("old")));
    let expired = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.next_token() == Some("old"))
        .then_error(|| {
            LookupEventsError::generic(
                ErrorMetadata::builder()
                    .code("InvalidNextTokenException")
                    .message("Invalid NextToken: the token has expired")
                    .build(),
            )
        });
    let c = clients(&[&first, &expired, &empty_create_key()]);
    let (ids, report) = run(&c, fast());
    assert_eq!(ids, vec!["e1"]);
    assert!(!report.complete);
    assert!(
        report.problems[0].contains("expired"),
        "{:?}",
        report.problems
    );
}

#[test]
fn events_of_other_keys_are_left_out() {
    let rule = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.lookup_attributes()[0].attribute_value() == "PutKeyPolicy")
        .then_output(|| {
            let other =
                "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
            let foreign = Event::builder()
                .event_id("o1")
                .cloud_trail_event(record("o1", 5, other))
                .build();
            page(vec![foreign, event("e1", 1)], None)
        });
    let c = clients(&[&rule, &empty_create_key()]);
    assert_eq!(run(&c, fast()).0, vec!["e1"]);
}

/// 120 policy events of the key: three pages of PutKeyPolicy (50, 50, 20) and one narrow
/// CreateKey lookup, four calls; under the 2-a-second pace, three waits of 500 ms.
#[test]
fn one_hundred_twenty_policy_events_cost_three_pages_and_one_call_per_other_search() {
    let pages: Vec<Rule> = (0..3)
        .map(|p| {
            let count = if p == 2 { 20 } else { 50 };
            let token_in = (p > 0).then(|| format!("t{p}"));
            let token_out = (p < 2).then(|| format!("t{}", p + 1));
            mock!(aws_sdk_cloudtrail::Client::lookup_events)
                .match_requests(move |r| {
                    r.lookup_attributes()[0].attribute_value() == "PutKeyPolicy"
                        && r.next_token() == token_in.as_deref()
                })
                .then_output(move || {
                    let evs = (0..count)
                        .map(|i| event(&format!("p{p}-{i}"), (p * 50 + i) % 60))
                        .collect();
                    page(evs, token_out.as_deref())
                })
        })
        .collect();
    let create = empty_create_key();
    let rules: Vec<&Rule> = pages.iter().chain(std::iter::once(&create)).collect();
    let c = clients(&rules);
    let (ids, report) = run(&c, LookupPacing::default());
    assert_eq!(ids.len(), 120);
    assert_eq!(
        report.calls,
        4 + 4 + 3,
        "and one for each kind of state change and of grant event"
    );
}

#[test]
fn the_guard_refuses_mutating_operations_before_they_are_sent() {
    let calls = CallLog::default();
    let guard = ReadOnlyGuard::new(calls.clone(), "us-east-1");
    let put = mock!(aws_sdk_kms::Client::put_key_policy).then_output(|| {
        aws_sdk_kms::operation::put_key_policy::PutKeyPolicyOutput::builder().build()
    });
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, &[&put], move |b| b
        .interceptor(guard.clone()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(
        kms.put_key_policy()
            .key_id(KEY)
            .policy_name("default")
            .policy("{}")
            .send(),
    );
    let err = result.expect_err("refused");
    // Refused while the request was being built: it was never serialized, let alone sent.
    assert!(
        matches!(
            err,
            aws_smithy_runtime_api::client::result::SdkError::ConstructionFailure(_)
        ),
        "{err:?}"
    );
    assert!(
        format!("{err:?}").contains("kmsdoctor is read-only: refused to send KMS PutKeyPolicy"),
        "{err:?}"
    );
    assert_eq!(calls.calls()[0].operation, "PutKeyPolicy");
}

/// A locked-out caller: DescribeKey and GetKeyPolicy denied. The alias resolves through
/// ListAliases, the key ARN is built from the caller's account and the region, and the
/// denied GetKeyPolicy is recorded as evidence, not as a failure.
#[test]
fn a_locked_out_caller_still_gets_a_diagnosis_started() {
    use aws_sdk_kms::operation::describe_key::DescribeKeyError;
    use aws_sdk_kms::operation::get_key_policy::GetKeyPolicyError;
    use aws_sdk_kms::operation::list_aliases::ListAliasesOutput;
    use aws_sdk_kms::types::AliasListEntry;

    let denied = |op: &str| {
        ErrorMetadata::builder()
            .code("AccessDeniedException")
            .message(format!("User is not authorized to perform: kms:{op}"))
            .build()
    };
    let describe = mock!(aws_sdk_kms::Client::describe_key)
        .then_error(move || DescribeKeyError::generic(denied("DescribeKey")));
    let get_policy = mock!(aws_sdk_kms::Client::get_key_policy)
        .match_requests(|r| r.policy_name() == Some("default") && r.key_id() == Some(KEY))
        .then_error(move || GetKeyPolicyError::generic(denied("GetKeyPolicy")));
    let all_aliases = mock!(aws_sdk_kms::Client::list_aliases)
        .match_requests(|r| r.key_id().is_none())
        .then_output(|| {
            ListAliasesOutput::builder()
                .aliases(
                    AliasListEntry::builder()
                        .alias_name("alias/other")
                        .target_key_id("0987dcba-09fe-87dc-65ba-ab0987654321")
                        .build(),
                )
                .aliases(
                    AliasListEntry::builder()
                        .alias_name("alias/payments")
                        .target_key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
                        .build(),
                )
                .build()
        });
    let key_aliases = mock!(aws_sdk_kms::Client::list_aliases)
        .match_requests(|r| r.key_id() == Some(KEY))
        .then_output(|| {
            ListAliasesOutput::builder()
                .aliases(
                    AliasListEntry::builder()
                        .alias_name("alias/payments")
                        .build(),
                )
                .build()
        });
    let grants = mock!(aws_sdk_kms::Client::list_grants).then_error(move || {
        aws_sdk_kms::operation::list_grants::ListGrantsError::generic(denied("ListGrants"))
    });
    let calls = CallLog::default();
    let guard = ReadOnlyGuard::new(calls.clone(), "us-east-1");
    let mut c = clients(&[]);
    c.kms = mock_client!(
        aws_sdk_kms,
        RuleMode::MatchAny,
        &[&describe, &get_policy, &all_aliases, &key_aliases, &grants],
        move |b| b.interceptor(guard.clone())
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (key, facts) = rt
        .block_on(kmsdoctor::evidence::aws::key_facts(
            &c,
            "alias/payments",
            "111122223333",
        ))
        .expect("resolved despite the denials");
    assert_eq!(key.arn.as_deref(), Some(KEY));
    assert_eq!(facts.resolved_by, "list_aliases");
    assert!(facts.policy.is_none());
    assert!(
        facts
            .policy_error
            .as_deref()
            .unwrap()
            .starts_with("AccessDeniedException"),
        "{facts:?}"
    );
    assert_eq!(
        facts.aliases.as_deref(),
        Some(&["alias/payments".to_string()][..])
    );
    assert!(
        facts.problems[0].contains("DescribeKey failed"),
        "{:?}",
        facts.problems
    );
    let ops: Vec<String> = calls.calls().into_iter().map(|c| c.operation).collect();
    assert_eq!(
        ops,
        vec![
            "DescribeKey",
            "ListAliases",
            "GetKeyPolicy",
            "ListGrants",
            "ListAliases"
        ]
    );
    // ListGrants denied, as in a lockout: no grant list, and no problem said for it.
    assert!(facts
        .properties
        .as_ref()
        .is_none_or(|p| p.listed_grants.is_none()));
}

/// A multi-Region primary locked (issue 28, item 3): DescribeKey names its replica, whose
/// own policy GetKeyPolicy reads in the replica's region; still the default there, the
/// replica is `ok`, and the diagnosis's data path goes through it. (Moto's ReplicateKey
/// fails, hence mocks.)
#[test]
fn a_locked_primarys_replica_policy_is_read_in_its_region_and_is_a_data_path() {
    use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
    use aws_sdk_kms::operation::get_key_policy::GetKeyPolicyOutput;
    use aws_sdk_kms::operation::list_aliases::ListAliasesOutput;
    use aws_sdk_kms::operation::list_grants::ListGrantsOutput;
    use aws_sdk_kms::types::{
        KeyMetadata, MultiRegionConfiguration, MultiRegionKey, MultiRegionKeyType,
    };
    const PRIMARY: &str =
        "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
    const REPLICA: &str =
        "arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
    let describe = mock!(aws_sdk_kms::Client::describe_key).then_output(|| {
        DescribeKeyOutput::builder()
            .key_metadata(
                KeyMetadata::builder()
                    .key_id("mrk-1234abcd12ab34cd56ef1234567890ab")
                    .arn(PRIMARY)
                    .multi_region(true)
                    .multi_region_configuration(
                        MultiRegionConfiguration::builder()
                            .multi_region_key_type(MultiRegionKeyType::Primary)
                            .primary_key(
                                MultiRegionKey::builder()
                                    .arn(PRIMARY)
                                    .region("us-east-1")
                                    .build(),
                            )
                            .replica_keys(
                                MultiRegionKey::builder()
                                    .arn(REPLICA)
                                    .region("us-west-2")
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let locked = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "Gone",
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "kms:*", "Resource": "*"}]})
    .to_string();
    let primary_policy = mock!(aws_sdk_kms::Client::get_key_policy)
        .match_requests(|r| r.key_id() == Some(PRIMARY))
        .then_output(move || GetKeyPolicyOutput::builder().policy(locked.clone()).build());
    let replica_policy = mock!(aws_sdk_kms::Client::get_key_policy)
        .match_requests(|r| r.key_id() == Some(REPLICA))
        .then_output(|| {
            GetKeyPolicyOutput::builder()
                .policy(kmsdoctor::analysis::lockout::default_policy(
                    "aws",
                    "111122223333",
                ))
                .build()
        });
    let grants =
        mock!(aws_sdk_kms::Client::list_grants).then_output(|| ListGrantsOutput::builder().build());
    let aliases = mock!(aws_sdk_kms::Client::list_aliases)
        .then_output(|| ListAliasesOutput::builder().build());
    let calls = CallLog::default();
    let guard = ReadOnlyGuard::new(calls.clone(), "us-east-1");
    let mut c = clients(&[]);
    c.kms = mock_client!(
        aws_sdk_kms,
        RuleMode::MatchAny,
        &[
            &describe,
            &primary_policy,
            &replica_policy,
            &grants,
            &aliases
        ],
        move |b| b.interceptor(guard.clone())
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (key, facts) = rt
        .block_on(kmsdoctor::evidence::aws::key_facts(
            &c,
            PRIMARY,
            "111122223333",
        ))
        .expect("read");
    let props = facts.properties.clone().unwrap();
    assert_eq!(props.related.len(), 1, "{props:?}");
    assert_eq!(props.related[0].region, "us-west-2");
    assert!(props.related[0].policy.is_some(), "{props:?}");
    assert_eq!(props.listed_grants.as_deref(), Some(&[][..]));
    // GetKeyPolicy twice: the key's, and the replica's by its ARN (its own region).
    let gets = calls
        .calls()
        .into_iter()
        .filter(|c| c.operation == "GetKeyPolicy")
        .count();
    assert_eq!(gets, 2);

    let current = kmsdoctor::analysis::policy::parse_document(
        facts.policy.as_deref().unwrap(),
        kmsdoctor::analysis::policy::PolicyKind::Key,
        "key-policy",
    )
    .unwrap();
    let d = kmsdoctor::analysis::lockout::diagnose(kmsdoctor::analysis::lockout::Evidence {
        key,
        current_policy: Some(&current),
        events: &[],
        account: Some("111122223333"),
        now: chrono::Utc::now(),
        aliases: None,
        properties: Some(&props),
        caller: None,
    });
    assert_eq!(
        d.verdict,
        kmsdoctor::analysis::lockout::Verdict::Unrecoverable
    );
    assert_eq!(d.related_keys.len(), 1);
    assert_eq!(
        d.related_keys[0].verdict,
        kmsdoctor::analysis::lockout::Verdict::Ok
    );
    assert!(
        d.data_paths
            .iter()
            .any(|p| p.via == "related_key" && p.related_key.as_deref() == Some(REPLICA)),
        "{:?}",
        d.data_paths
    );
}

/// IAM's own decision for the caller, when the key policy delegates to IAM.
#[test]
fn simulation_reports_what_iam_decides() {
    use aws_sdk_iam::operation::simulate_principal_policy::SimulatePrincipalPolicyOutput;
    use aws_sdk_iam::types::{EvaluationResult, PolicyEvaluationDecisionType};
    let sim = mock!(aws_sdk_iam::Client::simulate_principal_policy)
        .match_requests(|r| {
            r.policy_source_arn() == Some("arn:aws:iam::111122223333:role/ops/Admin")
                && r.action_names() == ["kms:GetKeyPolicy", "kms:PutKeyPolicy"]
                && r.resource_arns() == [KEY]
        })
        .then_output(|| {
            let result = |action: &str, decision: PolicyEvaluationDecisionType| {
                EvaluationResult::builder()
                    .eval_action_name(action)
                    .eval_decision(decision)
                    .build()
                    .unwrap()
            };
            SimulatePrincipalPolicyOutput::builder()
                .evaluation_results(result(
                    "kms:GetKeyPolicy",
                    PolicyEvaluationDecisionType::Allowed,
                ))
                .evaluation_results(result(
                    "kms:PutKeyPolicy",
                    PolicyEvaluationDecisionType::ImplicitDeny,
                ))
                .build()
        });
    let mut c = clients(&[]);
    c.iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&sim]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let decisions = rt
        .block_on(kmsdoctor::evidence::aws::simulate(
            &c,
            "arn:aws:iam::111122223333:role/ops/Admin",
            KEY,
        ))
        .unwrap();
    assert_eq!(
        decisions,
        vec![
            ("kms:GetKeyPolicy".to_string(), "allowed".to_string()),
            ("kms:PutKeyPolicy".to_string(), "implicitDeny".to_string())
        ]
    );

    // Folded into a diagnosis: KL214 names what IAM does not allow.
    use kmsdoctor::analysis::lockout::{apply_iam_facts, default_policy, diagnose, Evidence};
    let policy = default_policy("aws", "111122223333");
    let policy = kmsdoctor::analysis::policy::parse_document(
        &policy,
        kmsdoctor::analysis::policy::PolicyKind::Key,
        "key-policy",
    )
    .unwrap();
    let mut d = diagnose(Evidence {
        key: KeyRef::parse(KEY).unwrap(),
        current_policy: Some(&policy),
        events: &[],
        account: None,
        now: now(),
        aliases: None,
        properties: None,
        caller: Some("arn:aws:sts::111122223333:assumed-role/Admin/alice"),
    });
    apply_iam_facts(&mut d, &Default::default(), Some(&decisions));
    let caller = d.caller.as_ref().unwrap();
    assert!(
        caller.can_put_key_policy,
        "the key policy itself lets the caller in, via IAM"
    );
    let kl214 = d.findings.iter().find(|f| f.id() == "KL214").unwrap();
    assert!(
        kl214.message.contains("kms:PutKeyPolicy (implicitDeny)"),
        "{}",
        kl214.message
    );
}

/// The one write kmsdoctor may send (`fix --apply`) goes out only with
/// BypassPolicyLockoutSafetyCheck=false: without the flag, or with it true, the guard refuses
/// it before it is serialized, and read-only clients refuse it whatever the flag (issue 12).
#[test]
fn put_key_policy_is_never_sent_with_the_safety_check_bypassed() {
    use kmsdoctor::evidence::aws::Mode;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (mode, bypass, sent) in [
        (Mode::FixApply, Some(false), true),
        (Mode::FixApply, None, false),
        (Mode::FixApply, Some(true), false),
        (Mode::ReadOnly, Some(false), false),
    ] {
        let calls = CallLog::default();
        let guard = ReadOnlyGuard::with_mode(calls.clone(), "us-east-1", mode);
        let put = mock!(aws_sdk_kms::Client::put_key_policy).then_output(|| {
            aws_sdk_kms::operation::put_key_policy::PutKeyPolicyOutput::builder().build()
        });
        let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, &[&put], move |b| b
            .interceptor(guard.clone()));
        let result = rt.block_on(
            kms.put_key_policy()
                .key_id(KEY)
                .policy_name("default")
                .policy("{}")
                .set_bypass_policy_lockout_safety_check(bypass)
                .send(),
        );
        assert_eq!(result.is_ok(), sent, "{mode:?} {bypass:?}: {result:?}");
        if !sent {
            // Refused while the request was being built: never serialized, never sent.
            assert!(
                matches!(
                    result,
                    Err(aws_smithy_runtime_api::client::result::SdkError::ConstructionFailure(_))
                ),
                "{mode:?} {bypass:?}: {result:?}"
            );
        }
    }
}

/// KMS's safety check rejecting the policy comes back as its code and message, in one line.
#[test]
fn a_put_rejected_by_the_safety_check_is_one_line() {
    use aws_sdk_kms::operation::put_key_policy::PutKeyPolicyError;
    let calls = CallLog::default();
    let guard = ReadOnlyGuard::with_mode(
        calls.clone(),
        "us-east-1",
        kmsdoctor::evidence::aws::Mode::FixApply,
    );
    let put = mock!(aws_sdk_kms::Client::put_key_policy).then_error(|| {
        PutKeyPolicyError::generic(
            ErrorMetadata::builder()
                .code("MalformedPolicyDocumentException")
                .message(
                    "The new key policy will not allow you to update the key policy in the future.",
                )
                .build(),
        )
    });
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, &[&put], move |b| b
        .interceptor(guard.clone()));
    let c = with_kms(kms, calls);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = rt
        .block_on(kmsdoctor::evidence::aws::put_key_policy(&c, KEY, "{}"))
        .unwrap_err();
    assert!(e.code.is("MalformedPolicyDocumentException"), "{e:?}");
    assert_eq!((e.service, e.operation), ("kms", "PutKeyPolicy"));
    assert_eq!(
        e.message,
        "MalformedPolicyDocumentException: The new key policy will not allow you to update the key policy in the future."
    );
}

/// scan_region over the mocks (issue 11): ListKeys paging, a throttled DescribeKey retried by
/// the SDK, AccessDenied on one key's policy (a lockout candidate, not an abort), an AWS
/// managed key left unread, and a region whose ListKeys fails.
#[test]
fn scan_region_pages_retries_and_reports_per_key() {
    use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
    use aws_sdk_kms::operation::get_key_policy::{GetKeyPolicyError, GetKeyPolicyOutput};
    use aws_sdk_kms::operation::list_keys::{ListKeysError, ListKeysOutput};
    use aws_sdk_kms::types::{KeyListEntry, KeyManagerType, KeyMetadata};
    let arn = |n: u32| {
        format!("arn:aws:kms:us-east-1:111122223333:key/{n:08}-12ab-34cd-56ef-1234567890ab")
    };
    let (a1, a2, a3) = (arn(1), arn(2), arn(3));
    let entry = |a: &str| {
        KeyListEntry::builder()
            .key_arn(a)
            .key_id(a.rsplit('/').next().unwrap())
            .build()
    };
    let p1 = {
        let (a1, a2) = (a1.clone(), a2.clone());
        mock!(aws_sdk_kms::Client::list_keys)
            .match_requests(|r| r.marker().is_none())
            .then_output(move || {
                ListKeysOutput::builder()
                    .keys(entry(&a1))
                    .keys(entry(&a2))
                    .truncated(true)
                    .next_marker("m1")
                    .build()
            })
    };
    let p2 = {
        let a3 = a3.clone();
        mock!(aws_sdk_kms::Client::list_keys)
            .match_requests(|r| r.marker() == Some("m1"))
            .then_output(move || {
                ListKeysOutput::builder()
                    .keys(entry(&a3))
                    .truncated(false)
                    .build()
            })
    };
    let describe = {
        let a3 = a3.clone();
        mock!(aws_sdk_kms::Client::describe_key)
            .sequence()
            .error(|| {
                aws_sdk_kms::operation::describe_key::DescribeKeyError::generic(
                    ErrorMetadata::builder()
                        .code("ThrottlingException")
                        .message("Rate exceeded")
                        .build(),
                )
            })
            .output(|| DescribeKeyOutput::builder().build())
            .output(|| DescribeKeyOutput::builder().build())
            .output(move || {
                DescribeKeyOutput::builder()
                    .key_metadata(
                        KeyMetadata::builder()
                            .key_id("k3")
                            .arn(&a3)
                            .key_manager(KeyManagerType::Aws)
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .build()
    };
    let policy = {
        let a2 = a2.clone();
        mock!(aws_sdk_kms::Client::get_key_policy)
            .match_requests(move |r| r.key_id() != Some(a2.as_str()))
            .then_output(|| {
                GetKeyPolicyOutput::builder()
                    .policy("{\"Statement\": []}")
                    .build()
            })
    };
    let denied = {
        let a2 = a2.clone();
        mock!(aws_sdk_kms::Client::get_key_policy)
            .match_requests(move |r| r.key_id() == Some(a2.as_str()))
            .then_error(|| {
                GetKeyPolicyError::generic(
                    ErrorMetadata::builder()
                        .code("AccessDeniedException")
                        .message("not allowed")
                        .build(),
                )
            })
    };
    let aliases = {
        let id = a1.rsplit('/').next().unwrap().to_string();
        mock!(aws_sdk_kms::Client::list_aliases).then_output(move || {
            aws_sdk_kms::operation::list_aliases::ListAliasesOutput::builder()
                .aliases(
                    aws_sdk_kms::types::AliasListEntry::builder()
                        .alias_name("alias/one")
                        .target_key_id(&id)
                        .build(),
                )
                .aliases(
                    aws_sdk_kms::types::AliasListEntry::builder()
                        .alias_name("alias/aws/ebs")
                        .build(),
                )
                .truncated(false)
                .build()
        })
    };
    let calls = CallLog::default();
    let guard = ReadOnlyGuard::new(calls.clone(), "us-east-1");
    let g = guard.clone();
    let kms = mock_client!(
        aws_sdk_kms,
        RuleMode::MatchAny,
        &[&p1, &p2, &describe, &policy, &denied, &aliases],
        move |b| b
            .interceptor(g.clone())
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
    );
    let c = with_kms(kms, calls.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let scan = rt.block_on(kmsdoctor::evidence::aws::scan::scan_region(
        &c,
        1000,
        &|_, _, _| {},
    ));
    assert!(scan.problems.is_empty(), "{:?}", scan.problems);
    let arns: Vec<&str> = scan.keys.iter().map(|k| k.arn.as_str()).collect();
    assert_eq!(arns, [a1.as_str(), a2.as_str(), a3.as_str()], "both pages");
    assert!(scan.keys[0].policy.is_ok());
    // The region's aliases, by the key they point at (one ListAliases for the region).
    assert_eq!(scan.keys[0].aliases, Some(vec!["alias/one".to_string()]));
    assert_eq!(scan.keys[1].aliases, Some(vec![]));
    assert_eq!(aliases.num_calls(), 1);
    assert!(
        scan.keys[1].policy.as_ref().unwrap_err().is_access_denied(),
        "{:?}",
        scan.keys[1].policy
    );
    assert_eq!(scan.keys[2].key_manager.as_deref(), Some("AWS"));
    assert!(
        scan.keys[2].policy.is_err(),
        "an AWS managed key's policy is not read"
    );
    assert_eq!(describe.num_calls(), 4, "the throttled call was retried");

    // A region whose ListKeys fails: said, and no keys.
    let failing = mock!(aws_sdk_kms::Client::list_keys).then_error(|| {
        ListKeysError::generic(
            ErrorMetadata::builder()
                .code("UnrecognizedClientException")
                .message("region not enabled")
                .build(),
        )
    });
    let kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, &[&failing]);
    let c = Clients { kms, ..c };
    let scan = rt.block_on(kmsdoctor::evidence::aws::scan::scan_region(
        &c,
        1000,
        &|_, _, _| {},
    ));
    assert!(scan.keys.is_empty());
    assert!(
        scan.problems[0].contains("ListKeys in us-east-1 failed"),
        "{:?}",
        scan.problems
    );
}

/// Organizations mocks for a member account read by a delegated administrator: the root
/// `r-ab12` with SCPs and RCPs enabled, the OU `ou-ab12-11111111`, and the account.
fn org_rules(ou_scp: &'static str) -> Vec<Rule> {
    use aws_sdk_organizations::operation::describe_organization::DescribeOrganizationOutput;
    use aws_sdk_organizations::operation::describe_policy::DescribePolicyOutput;
    use aws_sdk_organizations::operation::list_parents::ListParentsOutput;
    use aws_sdk_organizations::operation::list_policies_for_target::ListPoliciesForTargetOutput;
    use aws_sdk_organizations::operation::list_roots::ListRootsOutput;
    use aws_sdk_organizations::types::{
        Organization, Parent, ParentType, Policy, PolicySummary, PolicyType, PolicyTypeStatus,
        PolicyTypeSummary, Root,
    };
    let full =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let rcp_full = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
    let summary = |id: &str, name: &str| PolicySummary::builder().id(id).name(name).build();
    vec![
        mock!(aws_sdk_organizations::Client::describe_organization).then_output(|| {
            DescribeOrganizationOutput::builder()
                .organization(
                    Organization::builder()
                        .id("o-exampleorg")
                        .master_account_id("999988887777")
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_organizations::Client::list_roots).then_output(|| {
            let enabled = |t| {
                PolicyTypeSummary::builder()
                    .r#type(t)
                    .status(PolicyTypeStatus::Enabled)
                    .build()
            };
            ListRootsOutput::builder()
                .roots(
                    Root::builder()
                        .id("r-ab12")
                        .policy_types(enabled(PolicyType::ServiceControlPolicy))
                        .policy_types(enabled(PolicyType::ResourceControlPolicy))
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_organizations::Client::list_parents)
            .match_requests(|r| r.child_id() == Some("111122223333"))
            .then_output(|| {
                ListParentsOutput::builder()
                    .parents(
                        Parent::builder()
                            .id("ou-ab12-11111111")
                            .r#type(ParentType::OrganizationalUnit)
                            .build(),
                    )
                    .build()
            }),
        mock!(aws_sdk_organizations::Client::list_parents)
            .match_requests(|r| r.child_id() == Some("ou-ab12-11111111"))
            .then_output(|| {
                ListParentsOutput::builder()
                    .parents(
                        Parent::builder()
                            .id("r-ab12")
                            .r#type(ParentType::Root)
                            .build(),
                    )
                    .build()
            }),
        mock!(aws_sdk_organizations::Client::list_policies_for_target)
            .match_requests(|r| r.filter() == Some(&PolicyType::ServiceControlPolicy))
            .then_output(move || {
                let mut out = ListPoliciesForTargetOutput::builder()
                    .policies(summary("p-FullAWSAccess", "FullAWSAccess"));
                out = out.policies(summary("p-denykms1", "DenyKeyPolicyChanges"));
                out.build()
            }),
        mock!(aws_sdk_organizations::Client::list_policies_for_target)
            .match_requests(|r| r.filter() == Some(&PolicyType::ResourceControlPolicy))
            .then_output(move || {
                ListPoliciesForTargetOutput::builder()
                    .policies(summary("p-RCPFullAWSAccess", "RCPFullAWSAccess"))
                    .build()
            }),
        mock!(aws_sdk_organizations::Client::describe_policy)
            .match_requests(|r| r.policy_id() == Some("p-denykms1"))
            .then_output(move || {
                DescribePolicyOutput::builder()
                    .policy(Policy::builder().content(ou_scp).build())
                    .build()
            }),
        mock!(aws_sdk_organizations::Client::describe_policy)
            .match_requests(|r| r.policy_id() == Some("p-FullAWSAccess"))
            .then_output(move || {
                DescribePolicyOutput::builder()
                    .policy(Policy::builder().content(full).build())
                    .build()
            }),
        mock!(aws_sdk_organizations::Client::describe_policy)
            .match_requests(|r| r.policy_id() == Some("p-RCPFullAWSAccess"))
            .then_output(move || {
                DescribePolicyOutput::builder()
                    .policy(Policy::builder().content(rcp_full).build())
                    .build()
            }),
    ]
}

/// A delegated administrator reads the SCP and RCP levels of a member account root first,
/// each policy once; an SCP Deny with a condition then names the SCP layer and its level
/// for a caller without the tag (issue 13).
#[test]
fn scps_and_rcps_are_read_level_by_level_and_decide_the_chain() {
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyKeyPolicy","Effect":"Deny","Action":"kms:PutKeyPolicy","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"security"}}}]}"#;
    let rules = org_rules(deny);
    let refs: Vec<&Rule> = rules.iter().collect();
    let mut c = clients(&[]);
    // Guarded as in production, so that the calls are logged and checked.
    let guard = ReadOnlyGuard::new(c.calls.clone(), "us-east-1");
    c.organizations = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, &refs, |b| b
        .interceptor(guard.clone()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let read = rt.block_on(kmsdoctor::evidence::aws::read_org_policies(
        &c,
        "111122223333",
    ));
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    assert_eq!(read.management_account.as_deref(), Some("999988887777"));
    let scps = read.scps.clone().expect("SCPs read");
    let targets: Vec<&str> = scps.iter().map(|l| l.target.as_str()).collect();
    assert_eq!(targets, ["r-ab12", "ou-ab12-11111111", "111122223333"]);
    assert_eq!(scps[1].policies.len(), 2);
    assert_eq!(scps[1].policies[1].name, "DenyKeyPolicyChanges");
    assert_eq!(read.rcps.as_ref().map(Vec::len), Some(3));
    // Every policy content was asked for once, whatever the number of levels it is at.
    let describes = c
        .calls
        .calls()
        .iter()
        .filter(|call| call.operation == "DescribePolicy")
        .count();
    assert_eq!(describes, 3, "{:?}", c.calls.calls());
    assert!(c
        .calls
        .calls()
        .iter()
        .all(|call| kmsdoctor::evidence::aws::is_allowed(&call.service, &call.operation)));

    // Through the chain: the key policy delegates, the caller's identity policy allows, and
    // the SCP Deny decides for a caller whose tag is unknown (conditional) or wrong.
    let mut recorded = kmsdoctor::evidence::layers::RecordedLayers::default();
    read.record(&mut recorded);
    recorded.identity = Some(vec![kmsdoctor::evidence::layers::RecordedPolicy {
        name: "admin".into(),
        source: "inline policy admin".into(),
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#.into(),
    }]);
    recorded.boundary = Some(kmsdoctor::evidence::layers::RecordedBoundary::None);
    let layers = recorded.parse().unwrap();
    use kmsdoctor::analysis::lockout::{admins::caller_access, default_policy, Setting};
    let key = KeyRef::parse(KEY).unwrap();
    let setting = Setting::new(&key, "111122223333", now(), None, None);
    let policy = kmsdoctor::analysis::policy::parse_document(
        &default_policy("aws", "111122223333"),
        kmsdoctor::analysis::policy::PolicyKind::Key,
        "key-policy",
    )
    .unwrap();
    let caller =
        kmsdoctor::analysis::principal::Caller::parse("arn:aws:iam::111122223333:role/Ops")
            .unwrap();
    let access = caller_access(&policy.policy, &setting, &caller, &layers.layers(None));
    let json = serde_json::to_value(&access).unwrap();
    assert_eq!(json["decision"], "conditional", "{json}");
    let needs = json["requirements"].to_string();
    assert!(needs.contains("aws:PrincipalTag/team"), "{json}");

    // Without the condition, the SCP at the OU denies outright, and is named with its level.
    if let Some(levels) = recorded.scps.as_mut() {
        levels[1].policies[1].document = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyKeyPolicy","Effect":"Deny","Action":"kms:PutKeyPolicy","Resource":"*"}]}"#.into();
    }
    let layers = recorded.parse().unwrap();
    let access = caller_access(&policy.policy, &setting, &caller, &layers.layers(None));
    let json = serde_json::to_value(&access).unwrap();
    assert_eq!(json["decision"], "explicit_deny", "{json}");
    assert_eq!(json["denied_by"], "scp", "{json}");
    assert_eq!(json["denied_at"], "ou-ab12-11111111", "{json}");
    assert_eq!(json["can_put_key_policy"], false, "{json}");
}

/// A member account that may not read Organizations: the layers are not known, and the
/// problem names the command for someone in the management account.
#[test]
fn unreadable_organization_policies_are_said_with_the_command_to_read_them() {
    use aws_sdk_organizations::operation::describe_organization::DescribeOrganizationError;
    let denied = mock!(aws_sdk_organizations::Client::describe_organization).then_error(|| {
        DescribeOrganizationError::generic(
            ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("You don't have permissions to access this resource.")
                .build(),
        )
    });
    let mut c = clients(&[]);
    c.organizations = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, &[&denied]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let read = rt.block_on(kmsdoctor::evidence::aws::read_org_policies(
        &c,
        "111122223333",
    ));
    assert!(read.scps.is_none() && read.rcps.is_none());
    assert_eq!(read.problems.len(), 1);
    let p = &read.problems[0];
    assert!(p.contains("AccessDeniedException"), "{p}");
    assert!(
        p.contains("aws organizations list-policies-for-target --target-id 111122223333 --filter SERVICE_CONTROL_POLICY"),
        "{p}"
    );
}

/// Athena mocks: StartQueryExecution, then GetQueryExecution in `states` (the last one's
/// statistics 12,345 bytes and 678 ms), then `pages` of results.
fn athena_rules(
    states: Vec<(&'static str, Option<&'static str>)>,
    pages: Vec<(Vec<Vec<&'static str>>, Option<&'static str>)>,
) -> Vec<Rule> {
    use aws_sdk_athena::operation::get_query_execution::GetQueryExecutionOutput;
    use aws_sdk_athena::operation::get_query_results::GetQueryResultsOutput;
    use aws_sdk_athena::operation::start_query_execution::StartQueryExecutionOutput;
    use aws_sdk_athena::types::{
        Datum, QueryExecution, QueryExecutionState, QueryExecutionStatistics, QueryExecutionStatus,
        ResultSet, Row,
    };
    let start = mock!(aws_sdk_athena::Client::start_query_execution).then_output(|| {
        StartQueryExecutionOutput::builder()
            .query_execution_id("q-1")
            .build()
    });
    let mut status = mock!(aws_sdk_athena::Client::get_query_execution).sequence();
    for (state, reason) in states {
        status = status.output(move || {
            let mut st = QueryExecutionStatus::builder().state(QueryExecutionState::from(state));
            if let Some(r) = reason {
                st = st.state_change_reason(r);
            }
            GetQueryExecutionOutput::builder()
                .query_execution(
                    QueryExecution::builder()
                        .query_execution_id("q-1")
                        .status(st.build())
                        .statistics(
                            QueryExecutionStatistics::builder()
                                .data_scanned_in_bytes(12_345)
                                .total_execution_time_in_millis(678)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    }
    let mut results = mock!(aws_sdk_athena::Client::get_query_results).sequence();
    for (rows, next) in pages {
        results = results.output(move || {
            let mut set = ResultSet::builder();
            for r in &rows {
                let mut row = Row::builder();
                for cell in r {
                    row = row.data(Datum::builder().var_char_value(*cell).build());
                }
                set = set.rows(row.build());
            }
            GetQueryResultsOutput::builder()
                .result_set(set.build())
                .set_next_token(next.map(str::to_string))
                .build()
        });
    }
    vec![start, status.build(), results.build()]
}

fn athena_settings() -> kmsdoctor::evidence::settings::AthenaSettings {
    kmsdoctor::evidence::settings::AthenaSettings {
        workgroup: "primary".into(),
        database: "security".into(),
        table: "cloudtrail_logs".into(),
        output_location: None,
        max_scan: 5_000_000_000,
    }
}

fn run_athena(rules: &[Rule]) -> Result<kmsdoctor::evidence::aws::athena::QueryRun, String> {
    // The error as the person reads it.
    run_athena_in(kmsdoctor::evidence::aws::Mode::Athena, rules)
}

/// Runs a query over mocked Athena replies, with clients guarded in `mode` and retrying
/// as in production (standard, 3 attempts; shorter waits).
fn run_athena_in(
    mode: kmsdoctor::evidence::aws::Mode,
    rules: &[Rule],
) -> Result<kmsdoctor::evidence::aws::athena::QueryRun, String> {
    use kmsdoctor::evidence::aws::athena::{run_query, Polling};
    let refs: Vec<&Rule> = rules.iter().collect();
    let mut c = clients(&[]);
    let guard = ReadOnlyGuard::with_mode(c.calls.clone(), "us-east-1", mode);
    c.athena = mock_client!(aws_sdk_athena, RuleMode::MatchAny, &refs, |b| b
        .interceptor(guard.clone())
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
        )
        .sleep_impl(aws_smithy_async::rt::sleep::SharedAsyncSleep::new(
            aws_smithy_async::rt::sleep::TokioSleep::new()
        )));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let polling = Polling {
        first: Duration::from_millis(1),
        max: Duration::from_millis(1),
        timeout: Duration::from_secs(10),
    };
    rt.block_on(run_query(&c, &athena_settings(), "SELECT 1", polling))
        .map_err(|e| e.to_string())
}

/// The query is polled until it ends, its results read page by page (the header row once),
/// and Athena's statistics reported (issue 10).
#[test]
fn athena_results_are_paged_and_the_statistics_kept() {
    let rules = athena_rules(
        vec![("QUEUED", None), ("RUNNING", None), ("SUCCEEDED", None)],
        vec![
            (vec![vec!["eventid"], vec!["a"]], Some("t2")),
            (vec![vec!["b"], vec!["c"]], None),
        ],
    );
    let run = run_athena(&rules).unwrap();
    assert_eq!(run.id, "q-1");
    let cells: Vec<Option<String>> = run.rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        cells,
        [Some("a".into()), Some("b".into()), Some("c".into())],
        "the header row of the first page is left out, no other"
    );
    assert_eq!(run.scanned_bytes, Some(12_345));
    assert_eq!(run.millis, Some(678));
    assert_eq!(run.calls, 1 + 3 + 2);
}

/// A failed or cancelled query is an error with Athena's reason; nothing is read after it.
#[test]
fn a_failed_or_cancelled_athena_query_says_why() {
    for (state, word) in [("FAILED", "failed"), ("CANCELLED", "was cancelled")] {
        let rules = athena_rules(
            vec![
                ("RUNNING", None),
                (state, Some("TABLE_NOT_FOUND: cloudtrail_logs")),
            ],
            vec![],
        );
        let e = run_athena(&rules).unwrap_err();
        assert!(
            e.contains(&format!("the Athena query q-1 {word}: TABLE_NOT_FOUND")),
            "{e}"
        );
    }
}

/// StartQueryExecution goes out only from clients built for `--history athena`.
#[test]
fn only_athena_mode_may_start_a_query() {
    let rules = athena_rules(vec![("SUCCEEDED", None)], vec![(vec![], None)]);
    let e = run_athena_in(kmsdoctor::evidence::aws::Mode::ReadOnly, &rules).unwrap_err();
    assert!(
        e.contains("kmsdoctor is read-only: refused to send Athena StartQueryExecution"),
        "{e}"
    );
}

/// Athena throttles (TooManyRequestsException): the clients' retries, configured as in
/// production (standard, 3 attempts), carry the query through.
#[test]
fn a_throttled_athena_call_is_retried() {
    use aws_sdk_athena::operation::start_query_execution::{
        StartQueryExecutionError, StartQueryExecutionOutput,
    };
    let mut rules = athena_rules(
        vec![("SUCCEEDED", None)],
        vec![(vec![vec!["h"], vec!["x"]], None)],
    );
    rules[0] = mock!(aws_sdk_athena::Client::start_query_execution)
        .sequence()
        .error(|| {
            StartQueryExecutionError::generic(
                ErrorMetadata::builder()
                    .code("TooManyRequestsException")
                    .message("Rate exceeded")
                    .build(),
            )
        })
        .output(|| {
            StartQueryExecutionOutput::builder()
                .query_execution_id("q-1")
                .build()
        })
        .build();
    let run = run_athena(&rules).unwrap();
    assert_eq!(run.id, "q-1");
    assert_eq!(run.rows.len(), 1);
}

/// A multi-Region replica's creation (ReplicateKey, with its first policy) is logged in the
/// primary's region: the lookups ask there for it, besides the replica's own region.
#[test]
fn a_replicas_creation_is_looked_up_in_the_primarys_region() {
    let replica = "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
    let record = serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/Admin/a", "accountId": "111122223333"},
        "eventTime": "2026-11-01T10:00:00Z", "eventSource": "kms.amazonaws.com", "eventName": "ReplicateKey",
        "awsRegion": "us-west-2", "sourceIPAddress": "203.0.113.1",
        "requestParameters": {"keyId": "arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
            "replicaRegion": "us-east-1", "bypassPolicyLockoutSafetyCheck": false},
        "responseElements": {"replicaKeyMetadata": {"keyId": "mrk-1234abcd12ab34cd56ef1234567890ab", "arn": replica}},
        "eventID": "ev-replicate", "recipientAccountId": "111122223333"
    })
    .to_string();
    let replicate = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.lookup_attributes()[0].attribute_value() == "ReplicateKey")
        .then_output(move || {
            page(
                vec![Event::builder()
                    .event_id("ev-replicate")
                    .event_name("ReplicateKey")
                    .event_time(aws_smithy_types::DateTime::from_secs(1_793_527_200))
                    .cloud_trail_event(record.clone())
                    .build()],
                None,
            )
        });
    let put = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.lookup_attributes()[0].attribute_value() == "PutKeyPolicy")
        .then_output(|| page(vec![], None));
    let c = clients(&[&replicate, &put, &empty_create_key()]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (by_key, report) = rt.block_on(lookup_policy_events(
        &c,
        &[KeyLookup {
            key: KeyRef::parse(replica).unwrap(),
            creation: None,
            primary_region: Some("us-west-2".into()),
            // DescribeKey said Enabled: no lookup of state changes; its policy is ok (or
            // ListGrants listed its grants): no lookup of grant events.
            state_enabled: true,
            grants: false,
        }],
        now() - chrono::Duration::days(90),
        now(),
        fast(),
        &|_| {},
    ));
    assert!(report.complete, "{:?}", report.problems);
    let ids: Vec<&str> = by_key[0].iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["ev-replicate"]);
    assert_eq!(by_key[0][0].applies_in.as_deref(), Some("us-east-1"));
    assert_eq!(
        report.calls, 3,
        "PutKeyPolicy, CreateKey, and ReplicateKey in us-west-2; no state or grant lookups"
    );
}

/// A trail whose files are encrypted with a KMS key (SSE-KMS): S3's AccessDenied on
/// GetObject names the trail's key and the permission missing (issue 25), for log files and
/// digest files alike.
#[test]
fn an_encrypted_trail_log_refused_names_the_trail_key_and_kms_decrypt() {
    use aws_sdk_s3::operation::get_object::GetObjectError;
    use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
    use aws_sdk_s3::types::Object;
    use kmsdoctor::evidence::archive::TrailLocation;

    let trail_key = "arn:aws:kms:us-east-1:999988887777:key/0000aaaa-trail-logs";
    let list = mock!(aws_sdk_s3::Client::list_objects_v2).then_output(|| {
        ListObjectsV2Output::builder()
            .contents(
                Object::builder()
                    .key("AWSLogs/111122223333/CloudTrail/us-east-1/2026/07/01/f.json.gz")
                    .build(),
            )
            .build()
    });
    let denied = mock!(aws_sdk_s3::Client::get_object).then_error(|| {
        GetObjectError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("User: arn:aws:sts::111122223333:assumed-role/Responder/x is not authorized to perform: kms:Decrypt on the resource associated with this ciphertext because the resource does not exist in this Region, no resource-based policies allow access, or a resource-based policy explicitly denies access")
                .build(),
        )
    });
    let calls = CallLog::default();
    let guard = ReadOnlyGuard::new(calls.clone(), "us-east-1");
    let s3 = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        &[&list, &denied],
        move |b| { b.interceptor(guard.clone()) }
    );
    let c = Clients {
        s3,
        ..with_kms(mock_client!(aws_sdk_kms, RuleMode::MatchAny, &[]), calls)
    };
    let loc = TrailLocation {
        trail: "arn:aws:cloudtrail:us-east-1:999988887777:trail/org".into(),
        bucket: "org-trail-logs".into(),
        bucket_region: "us-east-1".into(),
        prefix: None,
        org_id: None,
        account: "111122223333".into(),
        region: "us-east-1".into(),
        log_validation: true,
        kms_key: Some(trail_key.into()),
    };
    let day = chrono::NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
    let key = KeyRef::parse(KEY).unwrap();
    let scan = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(kmsdoctor::evidence::aws::archive::scan_archive(
            &c,
            &loc,
            &key,
            day,
            day,
            &[],
            &|_| false,
            &|_| {},
        ));
    assert_eq!(scan.problems.len(), 1, "{:?}", scan.problems);
    let p = &scan.problems[0];
    assert!(
        p.contains(
            "s3://org-trail-logs/AWSLogs/111122223333/CloudTrail/us-east-1/2026/07/01/f.json.gz"
        ) && p.contains(trail_key)
            && p.contains("kms:Decrypt")
            && p.contains("S3 says the key refused"),
        "{p}"
    );
}

/// Grants are looked up too (issue 28), each grant event at most MAX_GRANT_PAGES pages:
/// CreateGrant by event name is the whole account's, and a busy account has many. A
/// CreateGrant of the key reaches its events; the lookup that keeps paging stops, said.
#[test]
fn grant_lookups_reach_the_key_and_stop_at_their_page_cap() {
    use kmsdoctor::evidence::aws::cloudtrail::MAX_GRANT_PAGES;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let n = std::sync::Arc::new(AtomicUsize::new(0));
    let count = n.clone();
    let grant_record = record("g1", 3, KEY).replace("\"PutKeyPolicy\"", "\"CreateGrant\"");
    let grants = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.lookup_attributes()[0].attribute_value() == "CreateGrant")
        .then_output(move || {
            let i = count.fetch_add(1, Ordering::Relaxed);
            let events = if i == 0 {
                vec![Event::builder()
                    .event_id("g1")
                    .event_name("CreateGrant")
                    .cloud_trail_event(grant_record.clone())
                    .build()]
            } else {
                vec![]
            };
            page(events, Some(&format!("token-{i}")))
        });
    let puts = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.lookup_attributes()[0].attribute_value() == "PutKeyPolicy")
        .then_output(|| page(vec![], None));
    let c = clients(&[&grants, &puts, &empty_create_key()]);
    let (ids, report) = run(&c, fast());
    assert_eq!(ids, vec!["g1"], "{:?}", report.problems);
    assert_eq!(n.load(Ordering::Relaxed) as u32, MAX_GRANT_PAGES);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("CreateGrant") && p.contains("stopped after 20 pages")),
        "{:?}",
        report.problems
    );
}

/// `--history athena` for a replica (issue 25, item 5): the first query (the replica's own
/// region) does not reach its creation, so a second, bounded one reads the days around its
/// creation in the primary's region, where KMS logged the ReplicateKey that made it; only
/// that event is kept, and the history is settled.
#[test]
fn athena_reads_a_replicas_creation_in_its_primarys_region() {
    use aws_sdk_cloudtrail::operation::describe_trails::DescribeTrailsOutput;
    use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
    use aws_sdk_cloudtrail::types::Trail;
    use aws_sdk_s3::operation::get_bucket_location::GetBucketLocationOutput;
    use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
    use kmsdoctor::evidence::aws_source::{AwsSource, Request};
    use kmsdoctor::evidence::settings::History;
    use kmsdoctor::evidence::source::{EventsQuery, EvidenceSource};
    const REPLICA: &str =
        "arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
    const PRIMARY: &str =
        "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab";
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .unwrap()
        .to_utc();
    let created = now - chrono::Duration::days(100);

    let nothing =
        mock!(aws_sdk_cloudtrail::Client::lookup_events).then_output(|| page(vec![], None));
    let trails = mock!(aws_sdk_cloudtrail::Client::describe_trails).then_output(|| {
        DescribeTrailsOutput::builder()
            .trail_list(
                Trail::builder()
                    .name("org")
                    .trail_arn("arn:aws:cloudtrail:us-east-1:111122223333:trail/org")
                    .s3_bucket_name("trail-bucket")
                    .is_multi_region_trail(true)
                    .home_region("us-east-1")
                    .build(),
            )
            .build()
    });
    let status = mock!(aws_sdk_cloudtrail::Client::get_trail_status)
        .then_output(|| GetTrailStatusOutput::builder().is_logging(true).build());
    let mut c = clients(&[&nothing, &trails, &status]);
    let location = mock!(aws_sdk_s3::Client::get_bucket_location)
        .then_output(|| GetBucketLocationOutput::builder().build());
    let listing = mock!(aws_sdk_s3::Client::list_objects_v2)
        .then_output(|| ListObjectsV2Output::builder().build());
    c.s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&location, &listing]);
    // The ReplicateKey as the primary's region logged it, as an Athena row.
    let row: Vec<&'static str> = vec![
        "1.08",
        "AssumedRole",
        "",
        "arn:aws:sts::111122223333:assumed-role/Admin/a",
        "111122223333",
        "",
        "Role",
        "arn:aws:iam::111122223333:role/Admin",
        "2026-08-15T10:00:00Z",
        "kms.amazonaws.com",
        "ReplicateKey",
        "us-east-1",
        "203.0.113.1",
        "aws-cli/2",
        "",
        "",
        r#"{"keyId":"arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab","replicaRegion":"us-west-2","bypassPolicyLockoutSafetyCheck":false}"#,
        r#"{"replicaKeyMetadata":{"keyId":"mrk-1234abcd12ab34cd56ef1234567890ab","arn":"arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"}}"#,
        "ev-replicate",
        PRIMARY,
        "111122223333",
        "s3://trail-bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2026/08/15/x.json.gz",
    ];
    let header: Vec<&'static str> = (0..22).map(|_| "h").collect();
    let rules = athena_rules(
        vec![("SUCCEEDED", None), ("SUCCEEDED", None)],
        vec![(vec![header.clone()], None), (vec![header, row], None)],
    );
    let refs: Vec<&Rule> = rules.iter().collect();
    let guard = ReadOnlyGuard::with_mode(
        c.calls.clone(),
        "us-east-1",
        kmsdoctor::evidence::aws::Mode::Athena,
    );
    c.athena = mock_client!(aws_sdk_athena, RuleMode::MatchAny, &refs, move |b| b
        .interceptor(guard.clone()));
    let mut request = Request::new(
        &Default::default(),
        REPLICA,
        std::time::Duration::from_secs(400 * 86_400),
        now,
    )
    .with_history(History::Athena(athena_settings()));
    request.pacing = fast();
    let progress = |_: kmsdoctor::evidence::aws::LookupProgress<'_>| {};
    let mut source = AwsSource::over(c, request, &progress).unwrap();
    let found = source
        .policy_events(&[EventsQuery {
            key: kmsdoctor::analysis::lockout::KeyRef::parse(REPLICA).unwrap(),
            creation: Some(created),
            primary_region: Some("us-east-1".into()),
            state_enabled: true,
        }])
        .unwrap();
    let ids: Vec<&str> = found.by_key[0]
        .iter()
        .map(|e| e.event_id.as_str())
        .collect();
    assert_eq!(ids, ["ev-replicate"], "{:?}", found.summary);
    let archive = found.summary.archive.clone().expect("the Athena summary");
    assert!(archive.settled, "{archive:?}");
    assert_eq!(archive.query_id.as_deref(), Some("q-1 q-1"), "two queries");
    assert!(
        !found
            .summary
            .problems
            .iter()
            .any(|p| p.contains("without reaching the key's creation")),
        "{:?}",
        found.summary.problems
    );
}
