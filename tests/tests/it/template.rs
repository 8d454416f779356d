//! `template.yaml` declares the same table, queues and bucket that the code provisions on the
//! emulators (`atelier_aws::provision`), and the deployment rules the platform relies on.

use std::collections::BTreeSet;

use atelier_aws::provision::{QUEUE_SPEC, WORKER_TIMEOUT_SECONDS, table_spec};
use atelier_platform::metrics::Metric;
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

/// The logical id a `Ref:` names.
fn ref_target(value: &Yaml) -> Option<&str> {
    value["Ref"].as_str()
}

/// A metric an alarm reads: namespace, name, dimensions.
type Watched = (String, String, Vec<(String, String)>);

/// The alarms, with the metric each watches: its namespace, name and dimensions (name → the
/// value's `Ref:` or `Fn::GetAtt:` target, or the literal value).
fn alarms(doc: &Yaml) -> Vec<(&str, &Yaml, Vec<Watched>)> {
    let dims = |metric: &Yaml| -> Vec<(String, String)> {
        metric["Dimensions"]
            .as_vec()
            .into_iter()
            .flatten()
            .map(|d| {
                let value = &d["Value"];
                let target = ref_target(value).or_else(|| get_att_target(value)).or_else(|| value.as_str());
                (d["Name"].as_str().expect("dimension name").to_owned(), target.expect("value").to_owned())
            })
            .collect()
    };
    resources_of_type(doc, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(name, alarm)| {
            let props = &alarm["Properties"];
            let watched = match props["Metrics"].as_vec() {
                // Metric math: each metric it reads.
                Some(metrics) => metrics
                    .iter()
                    .filter_map(|m| m["MetricStat"]["Metric"].as_hash().map(|_| &m["MetricStat"]["Metric"]))
                    .map(|m| {
                        let s = |k: &str| m[k].as_str().expect("metric field").to_owned();
                        (s("Namespace"), s("MetricName"), dims(m))
                    })
                    .collect(),
                None => {
                    let s = |k: &str| props[k].as_str().expect("metric field").to_owned();
                    vec![(s("Namespace"), s("MetricName"), dims(props))]
                }
            };
            (name, alarm, watched)
        })
        .collect()
}

#[test]
fn every_alarm_reaches_someone_and_nothing_goes_unwatched() {
    let doc = template();
    let alarms = alarms(&doc);
    assert_eq!(doc["Resources"]["AlertsTopic"]["Type"].as_str(), Some("AWS::SNS::Topic"));
    // CloudWatch can publish to an encrypted topic only under a key whose policy lets it (never
    // the AWS-managed aws/sns key).
    let key = ref_target(&doc["Resources"]["AlertsTopic"]["Properties"]["KmsMasterKeyId"])
        .expect("a key of its own");
    let statements =
        doc["Resources"][key]["Properties"]["KeyPolicy"]["Statement"].as_vec().expect("key policy");
    let for_cloudwatch = statements
        .iter()
        .find(|s| s["Principal"]["Service"].as_str() == Some("cloudwatch.amazonaws.com"))
        .expect("CloudWatch may use the key");
    let actions: Vec<&str> =
        for_cloudwatch["Action"].as_vec().expect("actions").iter().filter_map(Yaml::as_str).collect();
    assert!(actions.contains(&"kms:Decrypt") && actions.contains(&"kms:GenerateDataKey*"), "{actions:?}");
    let subscription = &doc["Resources"]["AlertsEmailSubscription"];
    assert_eq!(ref_target(&subscription["Properties"]["Endpoint"]), Some("AlertEmail"));
    assert_eq!(subscription["Condition"].as_str(), Some("HasAlertEmail"));

    for (name, alarm, _) in &alarms {
        let actions = alarm["Properties"]["AlarmActions"].as_vec().expect("alarm actions");
        assert!(
            actions.iter().any(|a| ref_target(a) == Some("AlertsTopic")),
            "{name} tells the alerts topic"
        );
        assert!(!alarm["Properties"]["AlarmDescription"].is_badvalue(), "{name} says what it means");
    }
    let watches = |namespace: &str, metric: &str, dimension: (&str, &str)| {
        alarms.iter().any(|(_, _, watched)| {
            watched.iter().any(|(ns, m, dims)| {
                ns == namespace
                    && m == metric
                    && dims.iter().any(|(k, v)| (k.as_str(), v.as_str()) == dimension)
            })
        })
    };

    // Every queue's dead-letter queue, and every source queue's oldest message.
    for (name, queue) in resources_of_type(&doc, "AWS::SQS::Queue") {
        let redrive = &queue["Properties"]["RedrivePolicy"];
        if redrive.is_badvalue() {
            continue;
        }
        let dlq = get_att_target(&redrive["deadLetterTargetArn"]).expect("DLQ");
        assert!(watches("AWS/SQS", "ApproximateNumberOfMessagesVisible", ("QueueName", dlq)), "{dlq}");
        assert!(watches("AWS/SQS", "ApproximateAgeOfOldestMessage", ("QueueName", name)), "{name}");
    }
    // Every function's errors and throttles.
    for (function, _) in resources_of_type(&doc, "AWS::Serverless::Function") {
        for metric in ["Errors", "Throttles"] {
            assert!(watches("AWS/Lambda", metric, ("FunctionName", function)), "{function} {metric}");
        }
    }
    // The HTTP API's 5xx and latency.
    assert!(watches("AWS/ApiGateway", "5xx", ("ApiId", "HttpApi")));
    assert!(watches("AWS/ApiGateway", "Latency", ("ApiId", "HttpApi")));
    // The relay and the payment webhooks, by the names and dimensions the code emits.
    assert!(watches("Atelier", "outbox_resent", ("outcome", "sent")));
    assert!(watches("Atelier", "payment_webhooks_rejected", ("function", "PaymentsFunction")));
    for (name, _, watched) in &alarms {
        for (namespace, metric, dims) in watched {
            if namespace != atelier_platform::metrics::NAMESPACE {
                continue;
            }
            let known = Metric::ALL.iter().find(|m| m.name() == metric);
            let known = known.unwrap_or_else(|| panic!("{name}: the code emits no metric {metric}"));
            let mut expected: Vec<&str> = vec!["function"];
            expected.extend(known.dimensions());
            let declared: Vec<&str> = dims.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(declared, expected, "{name}: CloudWatch matches a metric by all its dimensions");
        }
    }
}

#[test]
fn the_dashboard_is_valid_and_names_only_metrics_the_code_emits() {
    let doc = template();
    let body = doc["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("a dashboard body to substitute");
    // What CloudFormation substitutes, replaced by a placeholder.
    let substituted = substitute(body);
    let dashboard: serde_json::Value = serde_json::from_str(&substituted).expect("the body is JSON");
    let widgets = dashboard["widgets"].as_array().expect("widgets");
    assert!(widgets.len() >= 10, "the numbers an operator looks at first");
    let text = substituted.as_str();
    let mut named = 0;
    for piece in text.split("MetricName=\\\"").skip(1) {
        let name = piece.split('\\').next().expect("a name");
        if ["Errors", "Throttles"].contains(&name) {
            continue;
        }
        assert!(Metric::ALL.iter().any(|m| m.name() == name), "the code emits no metric {name}");
        named += 1;
    }
    assert!(named >= 10, "{named}");
    for widget in widgets {
        for row in widget["properties"]["metrics"].as_array().into_iter().flatten() {
            let row = row.as_array().expect("a metric row is an array");
            if row[0].as_str() == Some("Atelier") {
                let name = row[1].as_str().expect("name");
                assert!(Metric::ALL.iter().any(|m| m.name() == name), "{name}");
            }
        }
    }
}

/// `${…}` replaced by `X`, as CloudFormation's `Fn::Sub` would put a value there.
fn substitute(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closing brace") + start;
        out.push('X');
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn every_function_follows_the_restored_table_when_one_is_named() {
    let doc = template();
    let follows = |value: &Yaml| -> bool {
        let sub = value["Fn::Sub"].as_vec();
        let name = sub.and_then(|v| v.get(1)).map(|vars| &vars["Name"]["Fn::If"]);
        name.and_then(Yaml::as_vec).is_some_and(|branches| {
            branches.first().and_then(Yaml::as_str) == Some("TableRestored")
                && ref_target(&branches[1]) == Some("RestoredTableName")
                && ref_target(&branches[2]) == Some("Table")
        })
    };
    let table = &doc["Globals"]["Function"]["Environment"]["Variables"]["ATELIER_TABLE"]["Fn::If"];
    assert_eq!(table.as_vec().and_then(|b| b.first()).and_then(Yaml::as_str), Some("TableRestored"));
    let mut checked = 0;
    for (function, f) in resources_of_type(&doc, "AWS::Serverless::Function") {
        for policy in f["Properties"]["Policies"].as_vec().into_iter().flatten() {
            for statement in policy["Statement"].as_vec().into_iter().flatten() {
                let actions = statement["Action"].as_vec().into_iter().flatten();
                if !actions.filter_map(Yaml::as_str).any(|a| a.starts_with("dynamodb:")) {
                    continue;
                }
                let resources = match statement["Resource"].as_vec() {
                    Some(list) => list.iter().collect::<Vec<_>>(),
                    None => vec![&statement["Resource"]],
                };
                for resource in resources {
                    assert!(follows(resource), "{function}: {resource:?} names the table in use");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 13, "{checked}");
}
