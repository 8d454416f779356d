//! `template.yaml` declares the same table, queues and bucket that the code provisions on the
//! emulators (`atelier_aws::provision`), and the deployment rules the platform relies on.

use std::collections::BTreeSet;

use atelier_aws::provision::{QUEUE_SPEC, WORKER_TIMEOUT_SECONDS, table_spec};
use yaml_rust2::{Yaml, YamlLoader};

fn template() -> Yaml {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml");
    YamlLoader::load_from_str(&text).expect("template is plain YAML").remove(0)
}

fn resources_of_type<'a>(doc: &'a Yaml, kind: &str) -> Vec<(&'a str, &'a Yaml)> {
    doc["Resources"]
        .as_hash()
        .expect("resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(name, r)| (name.as_str().expect("name"), r))
        .collect()
}

fn get_att_target(value: &Yaml) -> Option<&str> {
    value["Fn::GetAtt"].as_vec().and_then(|v| v.first()).and_then(Yaml::as_str)
}

#[test]
fn table_matches_the_code() {
    let doc = template();
    let table = &doc["Resources"]["Table"]["Properties"];
    let spec = table_spec();
    assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));

    let declared: BTreeSet<(String, String)> = table["AttributeDefinitions"]
        .as_vec()
        .expect("attribute definitions")
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().expect("name").to_owned(),
                a["AttributeType"].as_str().expect("type").to_owned(),
            )
        })
        .collect();
    let mut expected: BTreeSet<(String, String)> =
        [spec.key.0, spec.key.1].iter().map(|n| ((*n).to_owned(), "S".to_owned())).collect();
    for (_, (pk, sk)) in &spec.indexes {
        expected.insert(((*pk).to_owned(), "S".to_owned()));
        expected.insert(((*sk).to_owned(), "S".to_owned()));
    }
    assert_eq!(declared, expected);

    let key_schema = |schema: &Yaml| -> (String, String) {
        let keys = schema.as_vec().expect("key schema");
        let of = |kind: &str| {
            keys.iter()
                .find(|k| k["KeyType"].as_str() == Some(kind))
                .and_then(|k| k["AttributeName"].as_str())
                .expect("key")
                .to_owned()
        };
        (of("HASH"), of("RANGE"))
    };
    assert_eq!(key_schema(&table["KeySchema"]), (spec.key.0.to_owned(), spec.key.1.to_owned()));

    let indexes = table["GlobalSecondaryIndexes"].as_vec().expect("indexes");
    assert_eq!(indexes.len(), spec.indexes.len());
    for (name, (pk, sk)) in &spec.indexes {
        let index = indexes.iter().find(|i| i["IndexName"].as_str() == Some(name)).expect("index declared");
        assert_eq!(key_schema(&index["KeySchema"]), ((*pk).to_owned(), (*sk).to_owned()), "{name}");
        assert_eq!(index["Projection"]["ProjectionType"].as_str(), Some("ALL"), "{name}");
    }
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"].as_str(), Some(spec.ttl));
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"].as_bool(), Some(true));
}

#[test]
fn queues_have_dead_letter_queues_and_safe_timeouts() {
    let doc = template();
    let functions = resources_of_type(&doc, "AWS::Serverless::Function");
    let global_timeout = doc["Globals"]["Function"]["Timeout"].as_i64().expect("global timeout");
    let queues = resources_of_type(&doc, "AWS::SQS::Queue");
    let sources: Vec<_> =
        queues.iter().filter(|(_, q)| !q["Properties"]["RedrivePolicy"].is_badvalue()).collect();
    assert_eq!(sources.len(), atelier_app::QUEUES.len(), "one source queue per queue name");
    for (name, queue) in sources {
        let props = &queue["Properties"];
        let redrive = &props["RedrivePolicy"];
        assert_eq!(
            redrive["maxReceiveCount"].as_i64(),
            Some(i64::from(QUEUE_SPEC.max_receive_count)),
            "{name}"
        );
        assert!(redrive["maxReceiveCount"].as_i64().is_some_and(|n| n >= 5), "{name}: at least 5 receives");
        assert_eq!(
            props["VisibilityTimeout"].as_i64(),
            Some(i64::from(QUEUE_SPEC.visibility_timeout)),
            "{name}"
        );
        assert_eq!(props["MessageRetentionPeriod"].as_i64(), Some(i64::from(QUEUE_SPEC.retention)), "{name}");
        let dlq_name = get_att_target(&redrive["deadLetterTargetArn"]).expect("DLQ reference");
        let dlq = &doc["Resources"][dlq_name]["Properties"];
        assert_eq!(
            dlq["MessageRetentionPeriod"].as_i64(),
            Some(i64::from(QUEUE_SPEC.dlq_retention)),
            "{name}"
        );
        assert!(
            dlq["MessageRetentionPeriod"].as_i64() > props["MessageRetentionPeriod"].as_i64(),
            "{name}: its DLQ keeps messages longer than it does"
        );

        // Every consumer's timeout leaves visibility at least six times over.
        for (function, f) in &functions {
            let events = f["Properties"]["Events"].as_hash().into_iter().flatten();
            for (_, event) in events {
                if event["Type"].as_str() == Some("SQS")
                    && get_att_target(&event["Properties"]["Queue"]) == Some(name)
                {
                    let timeout = f["Properties"]["Timeout"].as_i64().unwrap_or(global_timeout);
                    assert_eq!(timeout, i64::from(WORKER_TIMEOUT_SECONDS), "{function}");
                    assert!(
                        props["VisibilityTimeout"].as_i64().expect("visibility") >= 6 * timeout,
                        "{function}"
                    );
                    let types =
                        event["Properties"]["FunctionResponseTypes"].as_vec().expect("response types");
                    assert!(
                        types.iter().any(|t| t.as_str() == Some("ReportBatchItemFailures")),
                        "{function}"
                    );
                }
            }
        }
    }
}

/// The package the Makefile builds for a function (`build-<LogicalId>` runs
/// `$(call function,<package>)`): each function is built with `-p`, so it links only its features.
fn function_package(logical_id: &str) -> &'static str {
    static MAKEFILE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        std::fs::read_to_string(format!("{}/../Makefile", env!("CARGO_MANIFEST_DIR"))).expect("Makefile")
    });
    let target = format!("build-{logical_id}:\n");
    let at = MAKEFILE.find(&target).unwrap_or_else(|| panic!("Makefile has no {target}"));
    let recipe = &MAKEFILE[at + target.len()..];
    let call = recipe.strip_prefix("\t$(call function,").expect("a `$(call function,<package>)` recipe");
    &call[..call.find(')').expect("closing parenthesis")]
}

#[test]
fn functions_are_arm64_rust_binaries_of_this_workspace() {
    let doc = template();
    let globals = &doc["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    let functions = resources_of_type(&doc, "AWS::Serverless::Function");
    assert!(!functions.is_empty());
    for (name, f) in functions {
        assert_eq!(f["Metadata"]["BuildMethod"].as_str(), Some("makefile"), "{name}");
        let binary = function_package(name);
        let manifest = format!("{}/../functions/{binary}/Cargo.toml", env!("CARGO_MANIFEST_DIR"));
        assert!(std::path::Path::new(&manifest).exists(), "{name}: functions/{binary} exists");
        let policies = f["Properties"]["Policies"].as_vec().expect("explicit policies");
        for statement in policies.iter().flat_map(|p| p["Statement"].as_vec().into_iter().flatten()) {
            for action in statement["Action"].as_vec().expect("actions") {
                let action = action.as_str().expect("action");
                assert!(!action.ends_with('*'), "{name}: least privilege, no wildcard actions ({action})");
            }
        }
    }
}

#[test]
fn exports_bucket_is_private_encrypted_and_expiring() {
    let doc = template();
    let buckets = resources_of_type(&doc, "AWS::S3::Bucket");
    assert_eq!(buckets.len(), 1);
    let props = &buckets[0].1["Properties"];
    let sse =
        &props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"];
    assert!(sse["SSEAlgorithm"].as_str().is_some());
    let block = &props["PublicAccessBlockConfiguration"];
    for flag in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(block[flag].as_bool(), Some(true), "{flag}");
    }
    let rule = &props["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(rule["Status"].as_str(), Some("Enabled"));
    assert!(rule["ExpirationInDays"].as_i64().is_some_and(|d| d > 0));
}

/// Whether an API Gateway route path matches a request path, and how specific it is (literal
/// segments, then non-greedy ones), for HTTP API's "most specific route wins".
fn route_match(route: &str, path: &str) -> Option<(usize, usize)> {
    let (r, p): (Vec<&str>, Vec<&str>) = (route.split('/').collect(), path.split('/').collect());
    let mut literal = 0;
    for (i, segment) in r.iter().enumerate() {
        if segment.ends_with("+}") {
            return (p.len() > i).then_some((literal, i));
        }
        let actual = p.get(i)?;
        if segment.starts_with('{') {
            continue;
        }
        if segment != actual {
            return None;
        }
        literal += 1;
    }
    (r.len() == p.len()).then_some((literal, r.len()))
}

#[test]
fn every_route_reaches_the_function_of_its_group() {
    use atelier_app::Group;
    let doc = template();
    let functions = resources_of_type(&doc, "AWS::Serverless::Function");
    let mut routes: Vec<(String, String, &str)> = Vec::new();
    for (name, f) in &functions {
        let binary = function_package(name);
        for (_, event) in f["Properties"]["Events"].as_hash().into_iter().flatten() {
            if event["Type"].as_str() == Some("HttpApi") {
                let path = event["Properties"]["Path"].as_str().expect("path").to_owned();
                let method = event["Properties"]["Method"].as_str().expect("method").to_uppercase();
                routes.push((path, method, binary));
            }
        }
    }
    let binary_of = |group: Group| match group {
        Group::Health => "health",
        Group::Auth => "auth",
        Group::Studios => "studios",
        Group::Bookings => "bookings",
        Group::Notifications => "notifications",
        Group::Payments => "payments",
        Group::Inventory => "inventory",
        Group::Projects => "projects",
        Group::Reports => "reports",
    };
    let mut checked = 0;
    for group in Group::ALL {
        let (_, api) = group.routes().split_for_parts();
        for (template, item) in api.paths.paths.iter() {
            let path = template
                .split('/')
                .map(|s| if s.starts_with('{') { "x" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let methods = [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
            ];
            for (method, operation) in methods {
                if operation.is_none() {
                    continue;
                }
                let best = routes
                    .iter()
                    .filter(|(_, m, _)| m == "ANY" || m == method)
                    .filter_map(|(route, _, binary)| {
                        route_match(route, &path).map(|rank| (rank, *binary, route))
                    })
                    .max_by_key(|(rank, _, _)| *rank);
                let Some((_, binary, route)) = best else {
                    panic!("{method} {template}: no API Gateway route")
                };
                assert_eq!(binary, binary_of(group), "{method} {template} goes to {binary} through {route}");
                checked += 1;
            }
        }
    }
    assert!(checked > 80, "{checked} routes checked");
}

#[test]
fn every_job_has_a_schedule_and_an_event_file() {
    use atelier_app::jobs::Job;
    let doc = template();
    let scheduler = &doc["Resources"]["SchedulerFunction"]["Properties"]["Events"];
    let inputs: Vec<serde_json::Value> = scheduler
        .as_hash()
        .expect("schedules")
        .values()
        .filter(|e| e["Type"].as_str() == Some("ScheduleV2"))
        .map(|e| serde_json::from_str(e["Properties"]["Input"].as_str().expect("input")).expect("JSON input"))
        .collect();
    for job in Job::ALL {
        let input = serde_json::to_value(job).expect("job");
        assert!(inputs.contains(&input), "{input} has a schedule");
        let name = input["job"].as_str().expect("name");
        let file = format!("{}/../events/schedule-{name}.json", env!("CARGO_MANIFEST_DIR"));
        let event: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("event file")).expect("JSON");
        assert_eq!(event, input, "{file}");
    }
}

/// The health function serves `docs/openapi.json` (so it links no capability); it must be
/// exactly the document the handlers' annotations generate.
#[test]
fn the_served_openapi_document_is_the_generated_one() {
    let generated = atelier_app::openapi::document_json();
    assert!(
        atelier_app::health::OPENAPI_JSON == generated,
        "docs/openapi.json is stale: run `cargo run -p atelier-ops -- openapi > docs/openapi.json`"
    );
    let doc: serde_json::Value = serde_json::from_str(atelier_app::health::OPENAPI_JSON).expect("JSON");
    assert!(doc["paths"]["/v1/studios/{studio_id}/bookings"]["post"].is_object(), "every group is in it");
}

/// Every list answers `{items, next_cursor}` and takes `limit` and `cursor`, as docs/api.md
/// says: walked from the OpenAPI document clients generate code from.
#[test]
fn every_list_operation_is_paginated_alike() {
    let doc: serde_json::Value = serde_json::from_str(&atelier_app::openapi::document_json()).expect("JSON");
    let resolve = |schema: &serde_json::Value| {
        let mut schema = schema.clone();
        while let Some(reference) = schema["$ref"].as_str().map(str::to_owned) {
            let name = reference.rsplit('/').next().unwrap_or_default();
            schema = doc["components"]["schemas"][name].clone();
        }
        schema
    };
    let mut lists = 0;
    let mut wrong = Vec::new();
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        let Some(get) = operations.get("get") else { continue };
        let schema = &get["responses"]["200"]["content"]["application/json"]["schema"];
        if schema.is_null() {
            continue;
        }
        let schema = resolve(schema);
        if schema["type"] == "array" {
            wrong.push(format!("GET {path} answers a bare array"));
            continue;
        }
        let properties = &schema["properties"];
        if !(properties["items"]["type"] == "array" && properties.get("next_cursor").is_some()) {
            continue;
        }
        lists += 1;
        let parameters: BTreeSet<&str> =
            get["parameters"].as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
        for name in ["limit", "cursor"] {
            if !parameters.contains(name) {
                wrong.push(format!("GET {path} does not take `{name}`"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(lists > 30, "the walk found the lists ({lists})");
}

/// Two types with one schema name become one schema in the OpenAPI document (the second
/// silently replaces the first): every `ToSchema` type's name, or its `as =` rename, is unique.
#[test]
fn schema_names_are_unique() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").join("shared");
    let mut files = vec![root];
    let mut names: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).expect("dir").flatten().map(|e| e.path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source");
        let mut pending: Option<Option<String>> = None;
        for line in text.lines().map(str::trim) {
            if line.starts_with("#[derive(") && line.contains("ToSchema") {
                pending = Some(None);
            } else if let (Some(rename), Some(rest)) = (pending.as_mut(), line.strip_prefix("#[schema(as = "))
            {
                *rename = Some(rest.trim_end_matches(")]").to_owned());
            } else if let Some(rename) = pending.clone()
                && let Some(rest) =
                    line.strip_prefix("pub struct ").or_else(|| line.strip_prefix("pub enum "))
            {
                let name = rest.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or_default();
                names
                    .entry(rename.unwrap_or_else(|| name.to_owned()))
                    .or_default()
                    .push(path.display().to_string());
                pending = None;
            } else if !line.starts_with("#[") && !line.starts_with("///") && !line.starts_with("//") {
                pending = None;
            }
        }
    }
    let clashes: Vec<_> = names.iter().filter(|(_, files)| files.len() > 1).collect();
    assert!(clashes.is_empty(), "one schema name, several types: {clashes:#?}");
    assert!(names.len() > 100, "the scan found the schemas ({})", names.len());
}

#[test]
fn the_websocket_api_routes_to_the_realtime_function_and_workers_can_push() {
    let doc = template();
    let apis = resources_of_type(&doc, "AWS::ApiGatewayV2::Api");
    let (api, props) = apis.first().map(|(n, a)| (*n, &a["Properties"])).expect("a WebSocket API");
    assert_eq!(props["ProtocolType"].as_str(), Some("WEBSOCKET"));
    let integrations = resources_of_type(&doc, "AWS::ApiGatewayV2::Integration");
    let (integration, target) = integrations.first().expect("one integration");
    let uri = target["Properties"]["IntegrationUri"]["Fn::Sub"].as_str().expect("uri");
    assert!(uri.contains("${RealtimeFunction.Arn}"), "{uri}");
    let mut keys: Vec<&str> = resources_of_type(&doc, "AWS::ApiGatewayV2::Route")
        .iter()
        .map(|(name, route)| {
            assert_eq!(route["Properties"]["ApiId"]["Ref"].as_str(), Some(api), "{name}");
            let target = route["Properties"]["Target"]["Fn::Sub"].as_str().expect("target");
            assert_eq!(target, format!("integrations/${{{integration}}}"), "{name}");
            route["Properties"]["RouteKey"].as_str().expect("route key")
        })
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["$connect", "$default", "$disconnect"]);
    let stage = &resources_of_type(&doc, "AWS::ApiGatewayV2::Stage")[0].1["Properties"];
    let stage_name = stage["StageName"].as_str().expect("stage");
    // Who pushes needs the stage's endpoint and the permission to post to its connections.
    for function in ["RealtimeFunction", "NotificationsWorkerFunction"] {
        let f = &doc["Resources"][function]["Properties"];
        let endpoint =
            f["Environment"]["Variables"]["ATELIER_WEBSOCKET_ENDPOINT"]["Fn::Sub"].as_str().expect(function);
        assert!(endpoint.ends_with(&format!("/{stage_name}")), "{function}: {endpoint}");
        let can_push = f["Policies"].as_vec().expect("policies").iter().any(|p| {
            p["Statement"].as_vec().into_iter().flatten().any(|s| {
                s["Action"]
                    .as_vec()
                    .into_iter()
                    .flatten()
                    .any(|a| a.as_str() == Some("execute-api:ManageConnections"))
            })
        });
        assert!(can_push, "{function} may post to connections");
    }
}
