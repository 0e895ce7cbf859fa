//! deploy/: the Dockerfile, the Compose file and the Kubernetes manifests,
//! parsed and held against what bytegate really reads and serves. No
//! container engine runs here: this is what can be checked without one (see
//! deploy/README.md).

use bytegate::config::Config;
use bytegate::server::AppState;
use bytegate::store::testdb::TestDb;
use serde::Deserialize;
use serde_norway::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

fn repo_file(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---- the Dockerfile ----

/// The Dockerfile's instructions of the final stage (continuation lines joined).
fn dockerfile() -> Vec<(String, String)> {
    let text = repo_file("deploy/Dockerfile");
    let mut joined = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && cur.is_empty()) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
            continue;
        }
        cur.push_str(line);
        joined.push(std::mem::take(&mut cur));
    }
    let instructions: Vec<(String, String)> = joined
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (op, rest) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            (op.to_ascii_uppercase(), rest.trim().to_string())
        })
        .collect();
    let last_from = instructions
        .iter()
        .rposition(|(op, _)| op == "FROM")
        .expect("a FROM");
    instructions[last_from..].to_vec()
}

fn instruction<'a>(ins: &'a [(String, String)], op: &str) -> Vec<&'a str> {
    ins.iter()
        .filter(|(o, _)| o == op)
        .map(|(_, rest)| rest.as_str())
        .collect()
}

/// `ENV A=1 B=2` pairs of the final stage.
fn dockerfile_env(ins: &[(String, String)]) -> Vec<(String, String)> {
    instruction(ins, "ENV")
        .iter()
        .flat_map(|rest| rest.split_whitespace())
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("ENV KEY=VALUE");
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// The argv of the HEALTHCHECK (exec form).
fn dockerfile_healthcheck(ins: &[(String, String)]) -> Vec<String> {
    let hc = instruction(ins, "HEALTHCHECK");
    assert_eq!(hc.len(), 1, "one HEALTHCHECK in the final stage");
    let cmd = hc[0]
        .split_once("CMD")
        .expect("HEALTHCHECK ... CMD")
        .1
        .trim();
    serde_json::from_str(cmd).expect("HEALTHCHECK CMD in exec form (a JSON array)")
}

// ---- Compose and Kubernetes ----

fn compose() -> Value {
    serde_norway::from_str(&repo_file("deploy/docker-compose.yml")).expect("compose YAML")
}

fn kubernetes() -> Vec<Value> {
    let text = repo_file("deploy/kubernetes/bytegate.yaml");
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).expect("a Kubernetes document"))
        .filter(|v| !v.is_null())
        .collect()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect()
}

fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("expected a string or number, got {other:?}"),
    }
}

/// The one bytegate container of the Deployment.
fn k8s_container(docs: &[Value]) -> &Value {
    let deployments = kind(docs, "Deployment");
    assert_eq!(deployments.len(), 1, "one Deployment");
    let containers = deployments[0]["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .expect("containers");
    assert_eq!(containers.len(), 1, "one container");
    &containers[0]
}

fn k8s_env(container: &Value) -> Vec<(String, &Value)> {
    container["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .map(|e| (str_of(&e["name"]), e))
        .collect()
}

/// A probe's or Service's `port` (a number or a port name) as a number.
fn resolve_port(container: &Value, port: &Value) -> u16 {
    let ports = container["ports"].as_sequence().expect("ports");
    match port {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .expect("a port"),
        Value::String(name) => ports
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .and_then(|p| p["containerPort"].as_u64())
            .and_then(|n| u16::try_from(n).ok())
            .unwrap_or_else(|| panic!("no container port named {name}")),
        other => panic!("port {other:?}"),
    }
}

// ---- what bytegate reads ----

/// Every environment variable bytegate reads: its command line's `env = "…"`
/// and the `${VAR}` references of the example config the manifests mount.
fn variables_bytegate_reads() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
    let flag = regex::Regex::new(r#"env = "([A-Z0-9_]+)""#).unwrap();
    for entry in std::fs::read_dir(&cli).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        names.extend(flag.captures_iter(&text).map(|c| c[1].to_string()));
    }
    let reference = regex::Regex::new(r"\$\{([A-Z0-9_]+)").unwrap();
    let config = repo_file("fixtures/config/bytegate.yaml");
    names.extend(reference.captures_iter(&config).map(|c| c[1].to_string()));
    // What the scan must find, or it found nothing useful.
    for known in ["PG_URL", "BB_PORT", "BB_CONFIG", "GITHUB_WEBHOOK_SECRET"] {
        assert!(names.contains(known), "{known} not found in {names:?}");
    }
    names
}

#[test]
fn the_image_runs_as_a_numeric_non_root_user_and_exposes_bb_port() {
    let ins = dockerfile();
    let user = instruction(&ins, "USER");
    assert_eq!(user.len(), 1, "one USER in the final stage");
    let (uid, gid) = user[0].split_once(':').unwrap_or((user[0], ""));
    // Kubernetes' runAsNonRoot can only check a numeric user.
    let uid: u32 = uid.parse().expect("a numeric USER");
    assert_ne!(uid, 0, "USER is root");
    if !gid.is_empty() {
        assert_ne!(gid.parse::<u32>().expect("a numeric group"), 0);
    }
    let env = dockerfile_env(&ins);
    let port = env
        .iter()
        .find(|(k, _)| k == "BB_PORT")
        .map(|(_, v)| v.clone())
        .expect("ENV BB_PORT");
    assert_eq!(instruction(&ins, "EXPOSE"), [port.as_str()]);
    let reads = variables_bytegate_reads();
    for (k, _) in &env {
        assert!(reads.contains(k), "ENV {k}: bytegate does not read it");
    }
}

#[test]
fn compose_runs_three_limited_non_root_replicas_on_bb_port() {
    let c = compose();
    let svc = &c["services"]["bytegate"];
    assert_eq!(svc["deploy"]["replicas"].as_u64(), Some(3));
    let limits = &svc["deploy"]["resources"]["limits"];
    assert!(
        !limits["cpus"].is_null() && !limits["memory"].is_null(),
        "{limits:?}"
    );
    let user = str_of(&svc["user"]);
    let uid = user.split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "user {user}");

    let reads = variables_bytegate_reads();
    let env = svc["environment"].as_mapping().expect("environment map");
    for k in env.keys() {
        let k = str_of(k);
        assert!(
            reads.contains(&k),
            "environment {k}: bytegate does not read it"
        );
    }
    assert!(
        env.contains_key("PG_URL"),
        "replicas need a shared meta database"
    );
    let bb_port = str_of(&svc["environment"]["BB_PORT"]);
    let expose = dockerfile();
    assert_eq!(instruction(&expose, "EXPOSE"), [bb_port.as_str()]);
    let ports = svc["ports"].as_sequence().expect("ports");
    assert!(!ports.is_empty());
    for p in ports {
        let p = str_of(p);
        let container = p.rsplit(':').next().unwrap();
        assert_eq!(container, bb_port, "published port {p}");
    }
}

#[test]
fn kubernetes_runs_three_limited_non_root_replicas_with_a_budget() {
    let docs = kubernetes();
    let deployment = kind(&docs, "Deployment")[0];
    assert_eq!(deployment["spec"]["replicas"].as_u64(), Some(3));
    let pod = &deployment["spec"]["template"];
    let labels = &pod["metadata"]["labels"];

    let pdbs = kind(&docs, "PodDisruptionBudget");
    assert_eq!(pdbs.len(), 1, "a PodDisruptionBudget");
    let pdb = &pdbs[0]["spec"];
    assert_eq!(
        &pdb["selector"]["matchLabels"], labels,
        "the PDB selects the pods"
    );
    let min = pdb["minAvailable"].as_u64().expect("minAvailable");
    assert!((1..3).contains(&min), "minAvailable {min} of 3");

    let security = &pod["spec"]["securityContext"];
    assert_eq!(security["runAsNonRoot"].as_bool(), Some(true));
    assert_ne!(security["runAsUser"].as_u64().expect("runAsUser"), 0);

    let container = k8s_container(&docs);
    for what in ["cpu", "memory"] {
        assert!(
            !container["resources"]["limits"][what].is_null(),
            "no {what} limit"
        );
        assert!(
            !container["resources"]["requests"][what].is_null(),
            "no {what} request"
        );
    }

    let reads = variables_bytegate_reads();
    let env = k8s_env(container);
    for (name, _) in &env {
        assert!(
            reads.contains(name),
            "env {name}: bytegate does not read it"
        );
    }
    let pg = env.iter().find(|(n, _)| n == "PG_URL").expect("PG_URL").1;
    assert!(
        !pg["valueFrom"]["secretKeyRef"]["name"].is_null(),
        "PG_URL comes from a secret"
    );
    let bb_port: u16 =
        str_of(&env.iter().find(|(n, _)| n == "BB_PORT").expect("BB_PORT").1["value"])
            .parse()
            .unwrap();
    let ports = container["ports"].as_sequence().unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["containerPort"].as_u64(), Some(u64::from(bb_port)));
    assert_eq!(
        instruction(&dockerfile(), "EXPOSE"),
        [bb_port.to_string().as_str()]
    );
    let service = kind(&docs, "Service")[0];
    assert_eq!(&service["spec"]["selector"], labels);
    for p in service["spec"]["ports"].as_sequence().unwrap() {
        assert_eq!(resolve_port(container, &p["targetPort"]), bb_port);
    }
    for probe in ["readinessProbe", "livenessProbe"] {
        let get = &container[probe]["httpGet"];
        assert_eq!(resolve_port(container, &get["port"]), bb_port, "{probe}");
    }
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/readyz")
    );
    assert_eq!(
        container["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/health")
    );
}

// ---- the probes against a real server ----

fn config() -> Arc<Config> {
    Arc::new(Config::from_yaml("project: {key: T, name: Test}\n", "test", &|_| None).unwrap())
}

/// Runs a health check's argv (`bytegate …`) with BB_PORT set: its exit code.
async fn run_check(argv: &[String], port: u16) -> Option<i32> {
    assert_eq!(argv[0], "bytegate", "{argv:?}");
    tokio::process::Command::new(env!("CARGO_BIN_EXE_bytegate"))
        .args(&argv[1..])
        .env("BB_PORT", port.to_string())
        .output()
        .await
        .expect("run bytegate")
        .status
        .code()
}

#[tokio::test]
async fn every_probe_answers_200_from_a_running_bytegate() {
    let docs = kubernetes();
    let container = k8s_container(&docs);
    let paths: BTreeSet<String> = ["readinessProbe", "livenessProbe", "startupProbe"]
        .iter()
        .filter_map(|p| container[*p]["httpGet"]["path"].as_str())
        .map(str::to_string)
        .collect();
    let image_check = dockerfile_healthcheck(&dockerfile());
    let compose = compose();
    let compose_check: Vec<String> = compose["services"]["bytegate"]["healthcheck"]["test"]
        .as_sequence()
        .expect("compose healthcheck test")
        .iter()
        .map(str_of)
        .collect();
    assert_eq!(compose_check[0], "CMD");

    let db = TestDb::migrated().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bytegate::server::serve(
        listener,
        AppState::new(db.pool.clone(), config()),
        async {
            let _ = stopped.await;
        },
    ));
    for path in &paths {
        let resp = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "probe {path}");
    }
    assert_eq!(
        run_check(&image_check, port).await,
        Some(0),
        "{image_check:?}"
    );
    assert_eq!(
        run_check(&compose_check[1..], port).await,
        Some(0),
        "{compose_check:?}"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    // Nothing listens any more: the checks fail.
    assert_eq!(run_check(&image_check, port).await, Some(1));
    assert_eq!(run_check(&compose_check[1..], port).await, Some(1));
}

#[tokio::test]
async fn the_health_check_fails_while_the_meta_database_is_down() {
    let image_check = dockerfile_healthcheck(&dockerfile());
    let dead = bytegate::store::embedded::free_port().unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(1))
        .connect_lazy(&format!("postgres://nobody@127.0.0.1:{dead}/none"))
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bytegate::server::serve(
        listener,
        AppState::new(pool, config()),
        async {
            let _ = stopped.await;
        },
    ));
    assert_eq!(run_check(&image_check, port).await, Some(1));
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
