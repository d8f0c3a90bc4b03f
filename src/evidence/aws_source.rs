//! The AWS side of the evidence seam: [`AwsSource`] reads the key, its policy history and
//! facts about principals from AWS (guarded, read-only unless built for `fix --apply`), and
//! keeps what AWS said, to save as a [`Bundle`].

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::aws::{
    self, runtime, CallerIdentity, Clients, KeyFacts, KeyLookup, LiveError, LookupPacing,
    LookupReport,
};
use super::bundle::{Bundle, BUNDLE_SCHEMA};
use super::layers::RecordedLayers;
use super::settings::History;
use super::settings::{ArchiveAccess, Connection};
use super::source::{
    EventsQuery, EventsSummary, EvidenceError, EvidenceSource, KeyEvidence, KeyPolicyStore,
    PolicyEvents, PrincipalFacts,
};
use super::BUNDLE_KIND;
use crate::analysis::events::{ArchiveSummary, PolicyEvent};
use crate::analysis::lockout::history_settled;
use crate::analysis::lockout::KeyRef;
use crate::analysis::policy::{parse_document, PolicyKind};

/// What to collect.
#[derive(Debug, Clone)]
pub struct Request {
    pub connection: Connection,
    pub key_input: String,
    /// Look back this far in CloudTrail: event history keeps 90 days; the archive
    /// (`--history s3`) reads further when the key's creation date is not known.
    pub since: Duration,
    pub now: DateTime<Utc>,
    pub pacing: LookupPacing,
    pub history: History,
    /// Whose credentials read the archive (S3, Athena).
    pub archive: ArchiveAccess,
}

impl Request {
    /// A request for one key, paced as the environment says (`LookupPacing::from_env`).
    pub fn new(
        connection: &Connection,
        key_input: &str,
        since: Duration,
        now: DateTime<Utc>,
    ) -> Request {
        Request {
            connection: connection.clone(),
            key_input: key_input.to_string(),
            since,
            now,
            pacing: LookupPacing::from_env(),
            history: History::Lookup,
            archive: ArchiveAccess::default(),
        }
    }

    /// The same request, reading older history from `history`.
    pub fn with_history(mut self, history: History) -> Request {
        self.history = history;
        self
    }

    /// The same request, reading the archive with `archive`'s credentials.
    pub fn with_archive(mut self, archive: ArchiveAccess) -> Request {
        self.archive = archive;
        self
    }
}

/// The AWS side of the evidence seam: guarded clients on a runtime of their own (only the
/// evidence layer is async), and what AWS said, kept to save as a [`Bundle`].
pub struct AwsSource<'p> {
    pub clients: Clients,
    runtime: tokio::runtime::Runtime,
    request: Request,
    progress: &'p (dyn Fn(aws::LookupProgress<'_>) + Sync),
    caller: Option<CallerIdentity>,
    caller_principal_arn: Option<String>,
    key: Option<KeyRef>,
    key_facts: KeyFacts,
    records: Vec<serde_json::Value>,
    lookup: LookupReport,
    facts: PrincipalFacts,
    /// The caller's layers of the request chain, as read.
    layers: Option<RecordedLayers>,
    /// Where each record came from: event id to `cloudtrail:LookupEvents` or `s3://...`.
    sources: BTreeMap<String, String>,
    /// What reading the trail's S3 logs amounted to.
    archive: Option<ArchiveSummary>,
    /// The key's current policy, parsed once (when GetKeyPolicy answered).
    current_policy: Option<crate::analysis::policy::Policy>,
}

impl<'p> AwsSource<'p> {
    /// Loads the AWS configuration (profile, region, credentials) and builds the clients.
    pub fn connect(
        request: Request,
        progress: &'p (dyn Fn(aws::LookupProgress<'_>) + Sync),
    ) -> Result<AwsSource<'p>, LiveError> {
        // Only `--history athena` may start a query (which writes its results).
        let mode = match request.history {
            History::Athena(_) => aws::Mode::Athena,
            _ => aws::Mode::ReadOnly,
        };
        AwsSource::connect_in(request, progress, mode)
    }

    /// [`AwsSource::connect`], with clients whose guard allows what `mode` allows.
    pub fn connect_in(
        request: Request,
        progress: &'p (dyn Fn(aws::LookupProgress<'_>) + Sync),
        mode: aws::Mode,
    ) -> Result<AwsSource<'p>, LiveError> {
        let runtime = runtime()?;
        let config = runtime.block_on(aws::load_config(&request.connection))?;
        let clients = Clients::with_mode(&config, mode);
        Ok(AwsSource::with_clients(clients, runtime, request, progress))
    }

    /// The principal ARN behind the caller (the role of a session), once asked.
    pub fn caller_principal_arn(&self) -> Option<&str> {
        self.caller_principal_arn.as_deref()
    }

    /// A source over the given clients (tests pass clients of their own).
    pub fn with_clients(
        clients: Clients,
        runtime: tokio::runtime::Runtime,
        request: Request,
        progress: &'p (dyn Fn(aws::LookupProgress<'_>) + Sync),
    ) -> AwsSource<'p> {
        AwsSource {
            clients,
            runtime,
            request,
            progress,
            caller: None,
            caller_principal_arn: None,
            key: None,
            key_facts: KeyFacts::default(),
            records: Vec::new(),
            lookup: LookupReport::default(),
            facts: PrincipalFacts::default(),
            layers: None,
            sources: BTreeMap::new(),
            archive: None,
            current_policy: None,
        }
    }

    /// Like [`AwsSource::with_clients`], with a runtime of its own.
    pub fn over(
        clients: Clients,
        request: Request,
        progress: &'p (dyn Fn(aws::LookupProgress<'_>) + Sync),
    ) -> Result<AwsSource<'p>, LiveError> {
        Ok(AwsSource::with_clients(
            clients,
            runtime()?,
            request,
            progress,
        ))
    }

    /// When event history does not settle the key's history (its creation, or a version that
    /// was `ok`): with `--history s3`, reads the trail's log files in S3 back to the key's
    /// creation date (else `--since`) and adds what they hold to `events`; otherwise says
    /// where the older history is. Problems go to `lookup` (a digest that does not match, a
    /// file that cannot be read: the history is then incomplete).
    fn older_history(
        &mut self,
        q: &EventsQuery,
        lookup_start: DateTime<Utc>,
        events: &mut Vec<PolicyEvent>,
        lookup: &mut LookupReport,
    ) -> Result<Option<ArchiveSummary>, LiveError> {
        let Some(account) = q
            .key
            .account
            .clone()
            .or_else(|| self.caller.as_ref().map(|c| c.account.clone()))
        else {
            return Ok(None);
        };
        let region = q
            .key
            .region
            .clone()
            .unwrap_or_else(|| self.clients.region.clone());
        let now = self.request.now;
        let current = self.current_policy.as_ref();
        let settled =
            |found: &[PolicyEvent]| history_settled(&q.key, &account, now, current, found);
        // A lookup that stopped early may miss what event history holds: then the archive is
        // read from today.
        if settled(events) && lookup.complete {
            return Ok(None);
        }
        let found =
            self.runtime
                .block_on(aws::archive::find_trail(&self.clients, &account, &region));
        let (loc, notes) = match found {
            Ok(f) => f,
            Err(m) => {
                if self.request.history != History::Lookup {
                    lookup.complete = false;
                }
                lookup.problems.push(m.to_string());
                return Ok(None);
            }
        };
        if self.request.history == History::Lookup {
            if !settled(events) {
                lookup.problems.push(format!(
                    "event history (90 days) does not reach the key's creation or a policy that was ok; older history is in {}: run again with --history s3 (or --history athena)",
                    loc.describe()
                ));
            }
            return Ok(None);
        }
        lookup.problems.extend(notes);
        let newest = if lookup.complete {
            lookup_start.date_naive()
        } else {
            now.date_naive()
        };
        let since_start = now
            - chrono::Duration::from_std(self.request.since).unwrap_or(chrono::Duration::days(90));
        // A day of margin: a record is filed under the day it was delivered (UTC).
        let oldest = q
            .creation
            .map(|c| c.date_naive() - chrono::Duration::days(1))
            .unwrap_or(since_start.date_naive());
        let clients = match self.archive_clients() {
            Ok(c) => aws::archive::in_bucket_region(&c, &loc.bucket_region),
            Err(e) => {
                lookup.complete = false;
                lookup.problems.push(format!(
                    "the trail's archive cannot be read with {}: {e}",
                    self.request.archive.describe()
                ));
                return Ok(None);
            }
        };
        if let History::Athena(settings) = &self.request.history {
            let settings = settings.clone();
            return self
                .athena_history(&clients, &settings, &loc, q, newest, oldest, events, lookup)
                .map(Some);
        }
        let mut scan = self.runtime.block_on(aws::archive::scan_archive(
            &clients,
            &loc,
            &q.key,
            newest,
            oldest,
            events,
            &settled,
            self.progress,
        ));
        // A replica's creation is the ReplicateKey logged in its primary's region: read the
        // days around its creation there too.
        if let (false, Some(primary), Some(created)) =
            (scan.settled, q.primary_region.as_deref(), q.creation)
        {
            if primary != loc.region {
                let found = self.runtime.block_on(aws::archive::scan_replica_creation(
                    &clients,
                    &loc,
                    &q.key,
                    primary,
                    created.date_naive(),
                    events,
                    &settled,
                    self.progress,
                ));
                scan.absorb(found);
            }
        }
        let added = scan.events.len() as u32;
        events.extend(scan.events);
        self.sources.extend(scan.sources);
        if !scan.problems.is_empty() {
            lookup.complete = false;
        }
        lookup.problems.extend(scan.problems);
        if !scan.settled && scan.days > 0 {
            lookup.problems.push(format!(
                "the trail's logs were read back to {} without reaching the key's creation or a policy that was ok: give --since further back",
                scan.oldest_day.map(|d| d.to_string()).unwrap_or_default()
            ));
        }
        Ok(Some(ArchiveSummary {
            location: loc.describe(),
            newest_day: scan.newest_day.map(|d| d.to_string()),
            oldest_day: scan.oldest_day.map(|d| d.to_string()),
            days: scan.days,
            list_calls: scan.lists,
            get_calls: scan.gets,
            bytes: scan.bytes,
            records: scan.records,
            events: added,
            settled: scan.settled,
            digests_checked: scan.digests_checked,
            validation: scan.validation,
            credentials: self.request.archive.describe(),
            method: "s3".into(),
            ..ArchiveSummary::default()
        }))
    }

    /// Whether the key's grant events are worth looking up: not when ListGrants listed the
    /// grants (the full list), nor when the current policy is `ok` (grants are looked at as
    /// data paths of a key nobody can fix; paced calls saved on every healthy run).
    fn grants_needed(&self, key: &crate::analysis::lockout::KeyRef) -> bool {
        let listed = self
            .key_facts
            .properties
            .as_ref()
            .is_some_and(|p| p.listed_grants.is_some());
        if listed {
            return false;
        }
        let ok = match (&self.current_policy, key.account.as_deref()) {
            (Some(policy), Some(account)) => {
                let setting = crate::analysis::lockout::Setting::new(
                    key,
                    account,
                    self.request.now,
                    None,
                    None,
                );
                crate::analysis::lockout::assess(policy, &setting).verdict
                    == crate::analysis::lockout::Verdict::Ok
            }
            _ => false,
        };
        !ok
    }

    /// The clients that read the archive: the run's own, or (`--archive-profile`,
    /// `--archive-role-arn`) clients of other credentials, guarded alike and logging into the
    /// run's call log. The role is assumed once, for an hour (STS's default session).
    fn archive_clients(&self) -> Result<Clients, LiveError> {
        let access = &self.request.archive;
        if !access.is_set() {
            return Ok(self.clients.clone());
        }
        let mode = match self.request.history {
            History::Athena(_) => aws::Mode::Athena,
            _ => aws::Mode::ReadOnly,
        };
        let conn = Connection {
            profile: access
                .profile
                .clone()
                .or_else(|| self.request.connection.profile.clone()),
            ..self.request.connection.clone()
        };
        let config = self.runtime.block_on(aws::load_config(&conn))?;
        let config = match &access.role_arn {
            None => config,
            Some(role) => {
                let base =
                    Clients::with_log(&config, aws::Mode::ArchiveRole, self.clients.calls.clone());
                let out = self
                    .runtime
                    .block_on(
                        base.sts
                            .assume_role()
                            .role_arn(role)
                            .role_session_name("kmsdoctor-archive")
                            .set_external_id(access.external_id.clone())
                            .send(),
                    )
                    .map_err(|e| {
                        LiveError::call(
                            base.error("sts", "AssumeRole", &e).about(role.as_str()),
                            "the role's trust policy must let you in (with the external id it asks for, --archive-external-id), and your policies must allow sts:AssumeRole on it",
                        )
                    })?;
                let Some(c) = out.credentials() else {
                    return Err(LiveError::Setup(format!(
                        "sts AssumeRole {role} answered without credentials"
                    )));
                };
                let expiry = std::time::SystemTime::try_from(*c.expiration()).ok();
                let creds = aws_credential_types::Credentials::new(
                    c.access_key_id(),
                    c.secret_access_key(),
                    Some(c.session_token().to_string()),
                    expiry,
                    "kmsdoctor-archive",
                );
                config
                    .into_builder()
                    .credentials_provider(
                        aws_credential_types::provider::SharedCredentialsProvider::new(creds),
                    )
                    .build()
            }
        };
        let mut c = Clients::with_log(&config, mode, self.clients.calls.clone());
        c.region = self.clients.region.clone();
        Ok(c)
    }

    /// `--history athena`: estimates what the query will scan and refuses above
    /// `--max-scan`, then runs the one query and adds what it found to `events`. For a
    /// multi-Region replica whose creation that does not reach, a second bounded query reads
    /// the days around its creation in its primary's region, where KMS logs the ReplicateKey
    /// that made it (its own estimate under `--max-scan`; over it, a problem, not a failure).
    #[allow(clippy::too_many_arguments)]
    fn athena_history(
        &mut self,
        clients: &Clients,
        settings: &super::settings::AthenaSettings,
        loc: &crate::evidence::archive::TrailLocation,
        q: &EventsQuery,
        newest: chrono::NaiveDate,
        oldest: chrono::NaiveDate,
        events: &mut Vec<PolicyEvent>,
        lookup: &mut LookupReport,
    ) -> Result<ArchiveSummary, LiveError> {
        let main = self
            .athena_query(
                clients,
                settings,
                loc,
                q,
                newest,
                oldest,
                events,
                lookup,
                &|_| true,
            )?
            .ok_or_else(|| LiveError::Setup("the Athena query did not run".into()))?;
        let mut settled = history_settled(
            &q.key,
            &loc.account,
            self.request.now,
            self.current_policy.as_ref(),
            events,
        );
        let mut added = main.added;
        let mut records = main.records;
        let mut query_ids = vec![main.id.clone()];
        if let (false, Some(primary), Some(created)) =
            (settled, q.primary_region.as_deref(), q.creation)
        {
            if primary != loc.region {
                let there = crate::evidence::archive::TrailLocation {
                    region: primary.to_string(),
                    ..loc.clone()
                };
                let day = created.date_naive();
                let found = self.athena_query(
                    clients,
                    settings,
                    &there,
                    q,
                    day + chrono::Duration::days(1),
                    day - chrono::Duration::days(1),
                    events,
                    lookup,
                    &|e| e.name == crate::analysis::events::EventName::ReplicateKey,
                );
                match found {
                    Ok(Some(r)) => {
                        added += r.added;
                        records += r.records;
                        query_ids.push(r.id);
                    }
                    Ok(None) => {}
                    Err(e) => lookup.problems.push(format!(
                        "the replica's creation (ReplicateKey in {primary}) was not read: {e}"
                    )),
                }
                settled = history_settled(
                    &q.key,
                    &loc.account,
                    self.request.now,
                    self.current_policy.as_ref(),
                    events,
                );
            }
        }
        if !settled {
            lookup.problems.push(format!(
                "the Athena query read back to {oldest} without reaching the key's creation or a policy that was ok: give --since further back"
            ));
        }
        let est = main.estimate;
        let run_scanned = main.scanned_bytes;
        let run_millis = main.millis;
        let query_id = query_ids.join(" ");
        Ok(ArchiveSummary {
            location: loc.describe(),
            newest_day: Some(newest.to_string()),
            oldest_day: Some(oldest.to_string()),
            days: (newest - oldest).num_days() as u32 + 1,
            list_calls: est.lists,
            get_calls: 0,
            bytes: 0,
            records,
            events: added,
            settled,
            digests_checked: 0,
            validation: None,
            credentials: self.request.archive.describe(),
            method: "athena".into(),
            query_id: Some(query_id),
            estimated_bytes: Some(est.bytes),
            scanned_bytes: run_scanned,
            query_millis: run_millis,
        })
    }

    /// One Athena query for `q`'s key over `loc`'s account and region, `oldest` to `newest`:
    /// estimated first (over `--max-scan`: an error), run, and its events that `keep`
    /// accepts added to `events` (each with its source). `None` when there was nothing to
    /// query.
    #[allow(clippy::too_many_arguments)]
    fn athena_query(
        &mut self,
        clients: &Clients,
        settings: &super::settings::AthenaSettings,
        loc: &crate::evidence::archive::TrailLocation,
        q: &EventsQuery,
        newest: chrono::NaiveDate,
        oldest: chrono::NaiveDate,
        events: &mut Vec<PolicyEvent>,
        lookup: &mut LookupReport,
        keep: &dyn Fn(&PolicyEvent) -> bool,
    ) -> Result<Option<AthenaRun>, LiveError> {
        use crate::analysis::text::size_words;
        use crate::evidence::athena::{cost_usd, history_sql, record_from_row, HistoryQuery};
        let est = self
            .runtime
            .block_on(aws::athena::estimate(clients, loc, newest, oldest))
            .map_err(LiveError::from)?;
        let said = format!(
            "Athena will scan about {} ({} log files of {} to {}, {}): about ${:.4}",
            size_words(est.bytes),
            est.objects,
            oldest,
            newest,
            loc.describe(),
            cost_usd(est.bytes)
        );
        (self.progress)(aws::LookupProgress::Note(&said));
        if est.bytes > settings.max_scan {
            return Err(LiveError::Setup(format!(
                "{said}, over --max-scan {}: raise --max-scan to run it, or narrow --since",
                size_words(settings.max_scan)
            )));
        }
        let sql = history_sql(&HistoryQuery {
            database: &settings.database,
            table: &settings.table,
            account: &loc.account,
            region: &loc.region,
            key_id: &q.key.id,
            oldest,
            newest,
        })
        .map_err(LiveError::from)?;
        let run = self
            .runtime
            .block_on(aws::athena::run_query(
                clients,
                settings,
                &sql,
                aws::athena::Polling::from_env(),
            ))
            .map_err(LiveError::from)?;
        let mut records = Vec::new();
        let mut paths = Vec::new();
        for row in &run.rows {
            match record_from_row(row) {
                Ok((r, path)) => {
                    records.push(r);
                    paths.push(path);
                }
                Err(m) => lookup.problems.push(format!(
                    "a row of the Athena query {} cannot be read: {m}",
                    run.id
                )),
            }
        }
        let text = serde_json::json!({ "Records": records }).to_string();
        let found = crate::evidence::cloudtrail_records::scan(&text).map_err(|e| {
            LiveError::Setup(format!("the Athena results cannot be read: {}", e.message))
        })?;
        let known: std::collections::HashSet<String> =
            events.iter().map(|e| e.event_id.clone()).collect();
        let mut added = 0u32;
        for e in found.events {
            if known.contains(&e.event_id) || !e.is_for(&q.key) || !keep(&e) {
                continue;
            }
            let path = paths.get(e.record_index).cloned().flatten();
            self.sources.insert(
                e.event_id.clone(),
                match path {
                    Some(p) => format!("athena:{} {p}", run.id),
                    None => format!("athena:{}", run.id),
                },
            );
            added += 1;
            events.push(e);
        }
        Ok(Some(AthenaRun {
            id: run.id,
            estimate: est,
            records: found.records,
            added,
            scanned_bytes: run.scanned_bytes,
            millis: run.millis,
        }))
    }

    /// What AWS said, as `collect` saves it.
    pub fn bundle(&self) -> Result<Bundle, LiveError> {
        let (Some(key), Some(caller)) = (&self.key, &self.caller) else {
            return Err(LiveError::Setup("nothing was collected".into()));
        };
        let mut problems = self.key_facts.problems.clone();
        problems.extend(self.lookup.problems.iter().cloned());
        problems.extend(self.facts.problems.iter().cloned());
        Ok(Bundle {
            kind: BUNDLE_KIND.into(),
            schema_version: BUNDLE_SCHEMA,
            collected_at: self.request.now,
            region: self.clients.region.clone(),
            key_input: self.request.key_input.clone(),
            key: key.clone(),
            caller: caller.clone(),
            caller_principal_arn: self.caller_principal_arn.clone(),
            key_facts: self.key_facts.clone(),
            records: self.records.clone(),
            lookup: self.lookup.clone(),
            existence: self.facts.existence.clone(),
            simulation: self.facts.simulation.clone(),
            trust: self.facts.trust.clone(),
            layers: self.layers.clone(),
            sources: self.sources.clone(),
            archive: self.archive.clone(),
            problems,
        })
    }
}

impl KeyPolicyStore for AwsSource<'_> {
    /// The key policy in KMS now (GetKeyPolicy).
    fn read_policy(&mut self, key_arn: &str) -> Result<String, aws::AwsError> {
        self.runtime
            .block_on(aws::get_key_policy(&self.clients, key_arn))
    }

    /// PutKeyPolicy: sent only when the clients were built for `fix --apply`, and never
    /// with the lockout safety check bypassed (the guard refuses it otherwise).
    fn write_policy(&mut self, key_arn: &str, policy: &str) -> Result<(), aws::AwsError> {
        self.runtime
            .block_on(aws::put_key_policy(&self.clients, key_arn, policy))
    }

    /// The key's tags (ListResourceTags), or why not.
    fn tags(&mut self, key_arn: &str) -> Result<Vec<(String, String)>, aws::AwsError> {
        self.runtime.block_on(aws::key_tags(&self.clients, key_arn))
    }
}

impl EvidenceSource for AwsSource<'_> {
    fn key(&mut self) -> Result<KeyEvidence, EvidenceError> {
        let c = &self.clients;
        let caller = self.runtime.block_on(aws::caller_identity(c))?;
        let (key, facts) =
            self.runtime
                .block_on(aws::key_facts(c, &self.request.key_input, &caller.account))?;
        let current_policy = facts
            .policy
            .as_deref()
            .map(|text| {
                parse_document(text, PolicyKind::Key, "key-policy").map_err(|e| {
                    LiveError::Setup(format!(
                        "kms GetKeyPolicy returned a key policy kmsdoctor cannot read: {}",
                        e.message
                    ))
                })
            })
            .transpose()?;
        let answer = KeyEvidence {
            key: Some(key.clone()),
            current_policy,
            policy_error: facts.policy_error.clone(),
            aliases: facts.aliases.clone(),
            creation_date: facts.creation_date,
            properties: facts.properties.clone(),
            caller: Some(caller.clone()),
            problems: facts.problems.clone(),
        };
        self.caller = Some(caller);
        self.key = Some(key);
        self.key_facts = facts;
        self.current_policy = answer.current_policy.as_ref().map(|d| d.policy.clone());
        Ok(answer)
    }

    fn policy_events(&mut self, keys: &[EventsQuery]) -> Result<PolicyEvents, EvidenceError> {
        let r = &self.request;
        // Event history keeps 90 days; `since` may reach further for the archive.
        let window = chrono::Duration::from_std(r.since)
            .unwrap_or(chrono::Duration::days(90))
            .min(chrono::Duration::days(90));
        let start = r.now - window;
        let lookups: Vec<KeyLookup> = keys
            .iter()
            .map(|q| KeyLookup {
                key: q.key.clone(),
                creation: q.creation,
                primary_region: q.primary_region.clone(),
                state_enabled: q.state_enabled,
                grants: self.grants_needed(&q.key),
            })
            .collect();
        let (mut by_key, mut lookup) = self.runtime.block_on(aws::lookup_policy_events(
            &self.clients,
            &lookups,
            start,
            r.now,
            r.pacing,
            self.progress,
        ));
        for events in &by_key {
            for e in events {
                self.sources
                    .insert(e.event_id.clone(), "cloudtrail:LookupEvents".into());
            }
        }
        let mut archive = None;
        for (i, q) in keys.iter().enumerate() {
            archive = self
                .older_history(q, start, &mut by_key[i], &mut lookup)?
                .or(archive);
        }
        // The records as CloudTrail wrote them, to save in a bundle.
        self.records = by_key
            .iter()
            .flatten()
            .filter_map(|e| e.raw.as_deref())
            .filter_map(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
            .collect();
        let summary = EventsSummary {
            records: lookup.records,
            unreadable: lookup.unreadable,
            lookup_calls: lookup.calls,
            complete: lookup.complete,
            problems: lookup.problems.clone(),
            archive: archive.clone(),
            ..EventsSummary::default()
        };
        self.lookup = lookup;
        self.archive = archive;
        Ok(PolicyEvents { by_key, summary })
    }

    fn principal_facts(
        &mut self,
        key: &KeyRef,
        principals: &[&str],
        ask_iam: bool,
    ) -> Result<PrincipalFacts, EvidenceError> {
        let c = &self.clients;
        let mut facts = PrincipalFacts::default();
        for p in principals {
            let e = self.runtime.block_on(aws::principal_exists(c, p));
            facts.existence.insert(p.to_string(), e);
            // GetRole answered already (cached): its trust policy says how to become it.
            if e == crate::analysis::lockout::Existence::Yes {
                if let Some(t) = self.runtime.block_on(aws::role_trust(c, p)) {
                    facts.trust.insert(p.to_string(), t);
                }
            }
        }
        if let Some(caller) = &self.caller {
            self.caller_principal_arn = self.runtime.block_on(aws::caller_principal_arn(c, caller));
        }
        if let (true, Some(p), Some(k)) = (ask_iam, &self.caller_principal_arn, &key.arn) {
            match self.runtime.block_on(aws::simulate(c, p, k)) {
                Ok(r) => facts.simulation = Some(r),
                Err(msg) => facts.problems.push(format!(
                    "iam SimulatePrincipalPolicy failed ({msg}): the IAM side is not known"
                )),
            }
        }
        if let Some(caller) = &self.caller {
            let recorded =
                self.runtime
                    .block_on(read_layers(c, caller, self.caller_principal_arn.as_deref()));
            match recorded.parse() {
                Ok(parsed) => facts.layers = Some(parsed),
                Err(e) => facts.layer_problems.push(format!(
                    "{} (at {}): the caller's layers are not evaluated",
                    e.message, e.pointer
                )),
            }
            facts
                .layer_problems
                .extend(recorded.problems.iter().cloned());
            self.layers = Some(recorded);
        }
        self.facts = facts.clone();
        Ok(facts)
    }
}

/// Reads the caller's layers of the request chain: its identity policies and permissions
/// boundary from IAM (the role behind a session: `principal_arn`), and the SCPs and RCPs
/// that bind its account from Organizations. The root user has no identity side.
async fn read_layers(
    c: &Clients,
    caller: &CallerIdentity,
    principal_arn: Option<&str>,
) -> RecordedLayers {
    let mut layers = RecordedLayers {
        principal: principal_arn.map(str::to_string),
        ..RecordedLayers::default()
    };
    let is_root = caller.arn.ends_with(":root");
    match (is_root, principal_arn) {
        (true, _) => {}
        (false, Some(p)) => {
            let read = aws::read_identity(c, p).await;
            layers.identity = read.identity;
            layers.boundary = read.boundary;
            layers.problems.extend(read.problems);
        }
        (false, None) => layers.problems.push(format!(
            "the IAM role or user behind {} could not be looked up: its identity policies and permissions boundary are not known",
            crate::analysis::escape::visible(&caller.arn)
        )),
    }
    aws::read_org_policies(c, &caller.account)
        .await
        .record(&mut layers);
    layers
}

/// What one Athena query gave.
struct AthenaRun {
    id: String,
    estimate: aws::athena::Estimate,
    records: u64,
    added: u32,
    scanned_bytes: Option<u64>,
    millis: Option<u64>,
}
